package database

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Admin is how buurt reaches a shared PostgreSQL server, from the admin
// Secret in the operator's namespace. The user needs CREATEROLE and CREATEDB.
type Admin struct {
	Host     string
	Port     string
	User     string
	Password string
	SSLMode  string
}

// Pool limits for one shared server: a few connections serve every team.
const (
	maxConns       = 3
	connectTimeout = 5 * time.Second
)

// SharedServer provisions team databases on one shared PostgreSQL server.
type SharedServer struct {
	pool *pgxpool.Pool
}

// ConnectShared opens a small, bounded pool to the server. It does not
// connect until first used.
func ConnectShared(ctx context.Context, admin Admin) (*SharedServer, error) {
	cfg, err := pgxpool.ParseConfig(admin.uri("postgres"))
	if err != nil {
		// The URI holds the password: say what is wrong without it.
		return nil, fmt.Errorf("invalid admin connection settings for %s:%s", admin.Host, admin.Port)
	}
	cfg.MaxConns = maxConns
	cfg.MaxConnIdleTime = time.Minute
	cfg.ConnConfig.ConnectTimeout = connectTimeout
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = "30000"
	cfg.ConnConfig.RuntimeParams["application_name"] = "buurt"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to set up connections to %s:%s: %w", admin.Host, admin.Port, err)
	}
	return &SharedServer{pool: pool}, nil
}

// Close closes the pool.
func (s *SharedServer) Close() {
	s.pool.Close()
}

// Ping checks that the server answers with the admin's credentials.
func (s *SharedServer) Ping(ctx context.Context) error {
	return s.pool.Ping(ctx)
}

// Ensure makes the team's role (able to log in with the password behind
// verifier, when the role is new) and its database, owned by the role, that
// only the role may connect to. It is safe to call again: what exists is
// kept, and the grants are set again.
func (s *SharedServer) Ensure(ctx context.Context, name, verifier string) error {
	role := pgx.Identifier{name}.Sanitize()
	exists, err := s.exists(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name)
	if err != nil {
		return err
	}
	if !exists {
		password, err := passwordLiteral(verifier)
		if err != nil {
			return err
		}
		if _, err := s.pool.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD "+password); err != nil {
			return fmt.Errorf("failed to create role %s: %w", name, err)
		}
	}
	exists, err = s.exists(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name)
	if err != nil {
		return err
	}
	if !exists {
		// CREATE DATABASE cannot run in a transaction, so it is its own
		// statement.
		if _, err := s.pool.Exec(ctx, "CREATE DATABASE "+role+" OWNER "+role); err != nil {
			return fmt.Errorf("failed to create database %s: %w", name, err)
		}
	}
	for _, stmt := range []string{
		"REVOKE CONNECT, TEMPORARY ON DATABASE " + role + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + role + " TO " + role,
	} {
		if _, err := s.pool.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("failed to restrict database %s to its role: %w", name, err)
		}
	}
	return nil
}

// SetPassword gives the team's role the password behind verifier.
func (s *SharedServer) SetPassword(ctx context.Context, name, verifier string) error {
	password, err := passwordLiteral(verifier)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, "ALTER ROLE "+pgx.Identifier{name}.Sanitize()+" PASSWORD "+password); err != nil {
		return fmt.Errorf("failed to set the password of role %s: %w", name, err)
	}
	return nil
}

// Drop removes the team's database, ending its open sessions first, and then
// its role. Dropping what is already gone is not an error.
func (s *SharedServer) Drop(ctx context.Context, name string) error {
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := s.pool.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("failed to drop database %s: %w", name, err)
	}
	if _, err := s.pool.Exec(ctx, "DROP ROLE IF EXISTS "+ident); err != nil {
		return fmt.Errorf("failed to drop role %s: %w", name, err)
	}
	return nil
}

// Exists reports whether the team's role and database exist.
func (s *SharedServer) Exists(ctx context.Context, name string) (role, database bool, err error) {
	if role, err = s.exists(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name); err != nil {
		return false, false, err
	}
	database, err = s.exists(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name)
	return role, database, err
}

func (s *SharedServer) exists(ctx context.Context, query, name string) (bool, error) {
	var found bool
	if err := s.pool.QueryRow(ctx, query, name).Scan(&found); err != nil {
		return false, fmt.Errorf("failed to look up %s: %w", name, err)
	}
	return found, nil
}

// verifierPattern is the shape of a SCRAM-SHA-256 verifier; nothing else is
// ever put into a PASSWORD clause.
var verifierPattern = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$`)

// passwordLiteral is verifier as an SQL string literal. DDL takes no bind
// parameters, so the verifier is checked against its strict shape (which has
// no quote or backslash) before it is put between quotes.
func passwordLiteral(verifier string) (string, error) {
	if !verifierPattern.MatchString(verifier) {
		return "", fmt.Errorf("refusing a password that is not a SCRAM-SHA-256 verifier")
	}
	return "'" + verifier + "'", nil
}

// URI is how a team's apps connect: user and password escaped for a URI.
func URI(host, port, user, password, database, sslmode string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort(host, port),
		Path:     "/" + database,
		RawQuery: url.Values{"sslmode": {sslmode}}.Encode(),
	}
	return u.String()
}

func (a Admin) uri(database string) string {
	sslmode := a.SSLMode
	if sslmode == "" {
		sslmode = "require"
	}
	return URI(a.Host, a.Port, a.User, a.Password, database, strings.ToLower(sslmode))
}

package database

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
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

// ParseAdmin reads an admin Secret's data; bad names the first key, in a
// fixed order, that is missing or not valid.
func ParseAdmin(data map[string][]byte) (admin Admin, bad string) {
	get := func(key, fallback string) string {
		if v := string(data[key]); v != "" {
			return v
		}
		return fallback
	}
	admin = Admin{Host: get("host", ""), Port: get("port", "5432"), User: get("user", ""),
		Password: get("password", ""), SSLMode: get("sslmode", "require")}
	port, err := strconv.Atoi(admin.Port)
	for _, check := range []struct {
		key string
		bad bool
	}{
		{"host", admin.Host == ""}, {"port", err != nil || port < 1 || port > 65535},
		{"user", admin.User == ""}, {"password", admin.Password == ""},
	} {
		if check.bad {
			return admin, check.key
		}
	}
	return admin, ""
}

// Pool limits and deadlines for one shared server: a few connections serve
// every team, and no call waits on the server for more than a few seconds,
// since a server that hangs would otherwise hold every worker. A deadline
// needs no help from the server: at a context's end pgconn (by default) sets
// the socket's deadline to now, so a read from a server that hangs returns
// at once and its connection is closed, not reused.
const (
	maxConns = 3
	// connectTimeout bounds a new connection: dial, TLS and login.
	connectTimeout = 3 * time.Second
	// pingTimeout bounds a Ping, and the pool's check of a connection that
	// has been idle before it hands the connection out.
	pingTimeout = 3 * time.Second
	// statementTimeout bounds a statement or a transaction, getting a
	// connection for it included.
	statementTimeout = 10 * time.Second
	// serverStatementTimeout is the server's statement_timeout, a little
	// below statementTimeout: a slow statement is ended by the server, which
	// then says so, before buurt gives up on the connection.
	serverStatementTimeout = statementTimeout - time.Second
)

// SharedServer provisions team databases on one shared PostgreSQL server.
// Every call to the server has its own deadline and goes through one
// breaker, so a server that cannot be reached is asked at most once per
// quiet period for all the teams on it.
type SharedServer struct {
	pool    *pgxpool.Pool
	breaker breaker
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
	// Without it, a check abandoned by its caller may wait a minute on a
	// silent server, holding one of the few connections.
	cfg.PingTimeout = pingTimeout
	cfg.ConnConfig.ConnectTimeout = connectTimeout
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(serverStatementTimeout.Milliseconds(), 10)
	cfg.ConnConfig.RuntimeParams["application_name"] = "buurt"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to set up connections to %s:%s: %w", admin.Host, admin.Port, err)
	}
	return &SharedServer{pool: pool, breaker: breaker{quiet: quietAfterFailure}}, nil
}

// Close closes the pool.
func (s *SharedServer) Close() {
	s.pool.Close()
}

// Ping checks that the server answers with the admin's credentials.
func (s *SharedServer) Ping(ctx context.Context) error {
	return s.breaker.do(ctx, pingTimeout, s.pool.Ping)
}

// RetryAfter is how long until a call asks the server again after it could
// not be reached or refused the login (IsUnreachable or
// IsAuthenticationFailure): until then every call returns that failure
// without asking. It is 0 when a call would ask the server now.
func (s *SharedServer) RetryAfter() time.Duration {
	return s.breaker.retryAfter()
}

// exec runs one statement with its own deadline.
func (s *SharedServer) exec(ctx context.Context, stmt string) error {
	return s.breaker.do(ctx, statementTimeout, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, stmt)
		return err
	})
}

// execAll runs stmts in one transaction, all or nothing, with one deadline.
func (s *SharedServer) execAll(ctx context.Context, stmts ...string) error {
	return s.breaker.do(ctx, statementTimeout, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			for _, stmt := range stmts {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// queryRow scans the one row query returns into dest, with its own
// deadline.
func (s *SharedServer) queryRow(ctx context.Context, dest any, query string, args ...any) error {
	return s.breaker.do(ctx, statementTimeout, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, query, args...).Scan(dest)
	})
}

// Tenant is a team's role and database on a shared server: Name is both
// their names (from Name), Team the name of the team they belong to.
type Tenant struct {
	Name string
	Team string
	// Found is true for a role that exists, found by buurt's mark; false
	// for one Ensure is to make.
	Found bool
}

// ConflictError says that a role or database of a team's name exists on the
// server and buurt did not make it for that team. buurt never takes one over:
// a team named after the admin user would otherwise be handed the admin's
// account.
type ConflictError struct {
	Object, Name, Team string
	// Whose says who made it, as far as buurt can tell.
	Whose Whose
}

// Whose is who made a role or database buurt does not take.
type Whose int

const (
	// NotBuurts means someone else made it (or buurt made a database of
	// that name for a role that is not its owner).
	NotBuurts Whose = iota
	// AnotherTeams means buurt made the role for another team.
	AnotherTeams
	// Ambiguous means several roles are marked as the team's; only someone with
	// CREATEROLE on the server can have marked the others.
	Ambiguous
)

func (e *ConflictError) Error() string {
	switch e.Whose {
	case AnotherTeams:
		return fmt.Sprintf("%s %s exists on the server and buurt made it for another team than %s; buurt does not take it over", e.Object, e.Name, e.Team)
	case Ambiguous:
		return fmt.Sprintf("%ss %s on the server are all marked as the database of team %s; buurt uses none of them", e.Object, e.Name, e.Team)
	}
	return fmt.Sprintf("%s %s exists on the server and buurt did not make it for team %s; buurt does not take it over", e.Object, e.Name, e.Team)
}

// Tenant is the team's role and database: the role buurt marked as the
// team's, whatever its name (a team keeps the name it was given, also one
// Name no longer gives), else one of the name Name gives, to be made.
func (s *SharedServer) Tenant(ctx context.Context, team string) (Tenant, error) {
	comment, err := mark(team)
	if err != nil {
		return Tenant{}, err
	}
	var names []string
	err = s.breaker.do(ctx, statementTimeout, func(ctx context.Context) error {
		rows, err := s.pool.Query(ctx, "SELECT r.rolname FROM pg_shdescription d JOIN pg_roles r ON r.oid = d.objoid "+
			"WHERE d.classoid = 'pg_authid'::regclass AND d.description = $1 ORDER BY r.rolname", comment)
		if err != nil {
			return err
		}
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	switch {
	case err != nil:
		return Tenant{}, fmt.Errorf("failed to look up the role of team %s: %w", team, err)
	case len(names) > 1:
		return Tenant{}, &ConflictError{Object: "role", Name: strings.Join(names, ", "), Team: team, Whose: Ambiguous}
	case len(names) == 1:
		return Tenant{Name: names[0], Team: team, Found: true}, nil
	}
	return Tenant{Name: Name(team), Team: team}, nil
}

// teamNamePattern is a DNS label, what the API allows as a team name; only
// such a name is put into a role's comment.
var teamNamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// markPrefix starts the comment on every role buurt makes.
const markPrefix = "buurt: database of team "

// mark is the comment on every role buurt makes: how it knows a role is one
// of its own, and whose.
func mark(team string) (string, error) {
	if !teamNamePattern.MatchString(team) {
		return "", fmt.Errorf("refusing team name %q: not a DNS label", team)
	}
	return markPrefix + team, nil
}

// Ensure makes the team's role (able to log in with the password behind
// verifier, when the role is new; verifier may be "" for a Tenant Found) and its database, owned by the role, that
// only the role may connect to. It is safe to call again: what exists is
// kept, and it writes nothing when all is in place (two queries), so that
// looking again for drift costs the server's catalog nothing. A role or
// database of that name that buurt did not make for the team is a
// *ConflictError, and left alone.
func (s *SharedServer) Ensure(ctx context.Context, t Tenant, verifier string) error {
	role := pgx.Identifier{t.Name}.Sanitize()
	db, dbExists, err := s.databaseOf(ctx, t.Name)
	if err != nil {
		return err
	}
	if dbExists && db.owner != t.Name {
		return &ConflictError{Object: "database", Name: t.Name, Team: t.Team}
	}
	exists, conflict, err := s.roleOf(ctx, t)
	if err != nil {
		return err
	}
	if conflict != nil {
		return conflict
	}
	if !exists {
		if verifier == "" {
			return fmt.Errorf("role %s is gone since it was looked up; it is made again at the next look", t.Name)
		}
		if err := s.createRole(ctx, t, verifier); err != nil {
			return err
		}
	}
	if !dbExists {
		// CREATE DATABASE cannot run in a transaction, so it is its own
		// statement.
		if err := s.exec(ctx, "CREATE DATABASE "+role+" OWNER "+role); err != nil {
			return fmt.Errorf("failed to create database %s: %w", t.Name, err)
		}
	} else if db.grantsInPlace {
		return nil
	}
	for _, stmt := range []string{
		"REVOKE CONNECT, TEMPORARY ON DATABASE " + role + " FROM PUBLIC",
		"GRANT CONNECT ON DATABASE " + role + " TO " + role,
	} {
		if err := s.exec(ctx, stmt); err != nil {
			return fmt.Errorf("failed to restrict database %s to its role: %w", t.Name, err)
		}
	}
	return nil
}

// createRole makes the role, marks it as the team's and makes the admin a
// member of it, all or nothing. The membership is what lets an admin that is
// not a superuser make the role's database and later drop it.
func (s *SharedServer) createRole(ctx context.Context, t Tenant, verifier string) error {
	password, err := passwordLiteral(verifier)
	if err != nil {
		return err
	}
	comment, err := mark(t.Team)
	if err != nil {
		return err
	}
	role := pgx.Identifier{t.Name}.Sanitize()
	err = s.execAll(ctx,
		"CREATE ROLE "+role+" LOGIN PASSWORD "+password,
		// The comment is a DNS label in a fixed sentence: no quote can be in
		// it.
		"COMMENT ON ROLE "+role+" IS '"+comment+"'",
		"GRANT "+role+" TO CURRENT_USER",
	)
	if err != nil {
		return fmt.Errorf("failed to create role %s: %w", t.Name, err)
	}
	return nil
}

// roleOf reports whether the team's role exists and, when buurt did not
// make it for this team, the *ConflictError that says so.
func (s *SharedServer) roleOf(ctx context.Context, t Tenant) (exists bool, conflict error, err error) {
	want, err := mark(t.Team)
	if err != nil {
		return false, nil, err
	}
	var comment *string
	err = s.queryRow(ctx, &comment, "SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1", t.Name)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil, nil
	case err != nil:
		return false, nil, fmt.Errorf("failed to look up role %s: %w", t.Name, err)
	case comment != nil && *comment == want:
		return true, nil, nil
	}
	theirs := &ConflictError{Object: "role", Name: t.Name, Team: t.Team}
	if comment != nil && strings.HasPrefix(*comment, markPrefix) {
		theirs.Whose = AnotherTeams
	}
	return true, theirs, nil
}

// databaseState is what Ensure reads of a team's database: its owner, and
// whether it is closed to PUBLIC and open to its owner.
type databaseState struct {
	owner         string
	grantsInPlace bool
}

// databaseOf reads database name, and whether it exists.
func (s *SharedServer) databaseOf(ctx context.Context, name string) (db databaseState, exists bool, err error) {
	err = s.breaker.do(ctx, statementTimeout, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, "SELECT pg_get_userbyid(d.datdba), "+
			"NOT EXISTS (SELECT 1 FROM aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a "+
			"WHERE a.grantee = 0 AND a.privilege_type IN ('CONNECT', 'TEMPORARY')) "+
			"AND has_database_privilege(pg_get_userbyid(d.datdba), d.oid, 'CONNECT') "+
			"FROM pg_database d WHERE d.datname = $1", name).Scan(&db.owner, &db.grantsInPlace)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return databaseState{}, false, nil
	case err != nil:
		return databaseState{}, false, fmt.Errorf("failed to look up database %s: %w", name, err)
	}
	return db, true, nil
}

// SetPassword gives the team's role the password behind verifier, and lets
// it log in again after Lock.
func (s *SharedServer) SetPassword(ctx context.Context, name, verifier string) error {
	password, err := passwordLiteral(verifier)
	if err != nil {
		return err
	}
	if err := s.exec(ctx, "ALTER ROLE "+pgx.Identifier{name}.Sanitize()+" LOGIN PASSWORD "+password); err != nil {
		return fmt.Errorf("failed to set the password of role %s: %w", name, err)
	}
	return nil
}

// EndSessions ends every open session of the team's role, and says how
// many there were: after its password is made anew, nobody keeps working
// through a connection opened with the old one. The admin may, being a
// member of the role (createRole).
func (s *SharedServer) EndSessions(ctx context.Context, name string) (int64, error) {
	ended, err := s.endSessionsWhere(ctx, "usename", name)
	if err != nil {
		return 0, fmt.Errorf("failed to end the sessions of role %s: %w", name, err)
	}
	return ended, nil
}

// endSessionsWhere ends every other session whose column (of
// pg_stat_activity: usename, the role, or datname, the database; a
// constant of buurt's, never input) is value, and says how many there were.
func (s *SharedServer) endSessionsWhere(ctx context.Context, column, value string) (int64, error) {
	var ended int64
	err := s.queryRow(ctx, &ended, "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "+
		"WHERE "+column+" = $1 AND pid <> pg_backend_pid()", value)
	return ended, err
}

// Lock takes the password and the right to log in off the team's role and
// ends its sessions, for a database kept after its team is gone or while it
// is Archived: nobody who could read the team's Secret logs in with it any
// more, and the data stays. A team made again under the name gets a new
// password (Ensure and SetPassword). A role that is gone is not an error; one
// buurt did not make for the team is a *ConflictError, and left alone.
func (s *SharedServer) Lock(ctx context.Context, t Tenant) error {
	if exists, err := s.teamsRole(ctx, t); err != nil || !exists {
		return err
	}
	if err := s.exec(ctx, "ALTER ROLE "+pgx.Identifier{t.Name}.Sanitize()+" NOLOGIN PASSWORD NULL"); err != nil {
		return fmt.Errorf("failed to take the password off role %s: %w", t.Name, err)
	}
	_, err := s.EndSessions(ctx, t.Name)
	return err
}

// teamsRole reports whether the team's role exists; one that buurt did not
// make for the team is a *ConflictError.
func (s *SharedServer) teamsRole(ctx context.Context, t Tenant) (bool, error) {
	exists, conflict, err := s.roleOf(ctx, t)
	switch {
	case err != nil || !exists:
		return false, err
	case conflict != nil:
		return false, conflict
	}
	return true, nil
}

// Drop removes the team's database, ending its open sessions first, and then
// its role. Dropping what is already gone is not an error; a role that buurt
// did not make for the team is a *ConflictError, and nothing is dropped.
func (s *SharedServer) Drop(ctx context.Context, t Tenant) error {
	if exists, err := s.teamsRole(ctx, t); err != nil || !exists {
		return err
	}
	ident := pgx.Identifier{t.Name}.Sanitize()
	db, dbExists, err := s.databaseOf(ctx, t.Name)
	switch {
	case err != nil:
		return err
	case !dbExists:
	case db.owner != t.Name:
		return &ConflictError{Object: "database", Name: t.Name, Team: t.Team}
	default:
		if err := s.exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("failed to drop database %s: %w", t.Name, err)
		}
	}
	if err := s.exec(ctx, "DROP ROLE IF EXISTS "+ident); err != nil {
		return fmt.Errorf("failed to drop role %s: %w", t.Name, err)
	}
	return nil
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

package database

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// copyRate is how fast a server is taken to copy a database, for an
// estimate of how long a copy stops a team: a cautious figure for CREATE
// DATABASE … TEMPLATE, which reads the whole database and writes it again
// (to the new files and, by default, to the WAL). A server on fast disks
// does better.
const copyRate = 50 << 20 // bytes a second

// copyOverhead is what a copy costs besides the bytes: the checkpoint and
// catalog work of CREATE DATABASE and the ownership changes after it.
const copyOverhead = 5 * time.Second

// CopyEstimate is about how long a copy of a database of size bytes takes.
func CopyEstimate(size int64) time.Duration {
	return copyOverhead + time.Duration(size/copyRate)*time.Second
}

// Mebibytes is a size in MiB, rounded up, for people.
func Mebibytes(size int64) string {
	return fmt.Sprintf("%d MiB", (size+(1<<20)-1)>>20)
}

// CopyTimeout bounds the copy of a database of size bytes: four times the
// estimate, and at least two minutes. A copy that takes longer is ended by
// the server (statement_timeout), which leaves no half-made database.
func CopyTimeout(size int64) time.Duration {
	return max(2*time.Minute, 4*CopyEstimate(size))
}

// copyMark is the comment on a database Copy made, once it is whole; a
// database of the new team's name without it is not a copy.
func copyMark(from string) (string, error) {
	if !teamNamePattern.MatchString(from) {
		return "", fmt.Errorf("refusing team name %q: not a DNS label", from)
	}
	return "buurt: copy of the database of team " + from, nil
}

// copyingMark is the comment on a copy whose grants are in place and whose
// objects are not yet its role's.
func copyingMark(from string) (string, error) {
	mark, err := copyMark(from)
	return mark + ", being handed over", err
}

// Size is the size of database name in bytes, as pg_database_size says.
func (s *SharedServer) Size(ctx context.Context, name string) (int64, error) {
	sizes, err := s.Sizes(ctx, []string{name})
	if err != nil {
		return 0, err
	}
	size, ok := sizes[name]
	if !ok {
		return 0, fmt.Errorf("failed to read the size of database %s: it does not exist", name)
	}
	return size, nil
}

// sizesTimeout bounds reading the sizes of a server's team databases, on
// the server (statement_timeout, which says so without opening the
// breaker) and a little longer here: pg_database_size looks at every file
// of each database, which for thousands of databases takes seconds.
const sizesTimeout = 50 * time.Second

// Sizes are the sizes in bytes of the databases named, as
// pg_database_size says, by name, read in one statement; a name with no
// database is left out.
func (s *SharedServer) Sizes(ctx context.Context, names []string) (map[string]int64, error) {
	sizes := make(map[string]int64, len(names))
	err := s.breaker.do(ctx, sizesTimeout+statementTimeout, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = "+strconv.FormatInt(sizesTimeout.Milliseconds(), 10)); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "SELECT datname, pg_database_size(oid) FROM pg_database WHERE datname = ANY($1)", names)
			if err != nil {
				return err
			}
			var name string
			var size int64
			_, err = pgx.ForEachRow(rows, []any{&name, &size}, func() error {
				sizes[name] = size
				return nil
			})
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("failed to read the sizes of %d databases: %w", len(names), err)
	}
	return sizes, nil
}

// EnsureRole makes the team's role as Ensure does, and not its database:
// for a team whose database is to be a copy (Copy), which must not start
// empty. A database of the role's name that the role does not own is a
// *ConflictError.
func (s *SharedServer) EnsureRole(ctx context.Context, t Tenant, verifier string) error {
	if db, exists, err := s.databaseOf(ctx, t.Name); err != nil {
		return err
	} else if exists && db.owner != t.Name {
		return &ConflictError{Object: "database", Name: t.Name, Team: t.Team}
	}
	exists, conflict, err := s.roleOf(ctx, t)
	switch {
	case err != nil:
		return err
	case conflict != nil:
		return conflict
	case exists:
		return nil
	case verifier == "":
		return fmt.Errorf("role %s is gone since it was looked up; it is made again at the next look", t.Name)
	}
	return s.createRole(ctx, t, verifier)
}

// ErrNotACopy says that the new team has a database already that is not
// a copy: it was made empty, and Copy does not overwrite it.
var ErrNotACopy = errors.New("the new team has a database of its own already, which is not a copy; buurt does not overwrite it")

// Copy makes team to's database a copy of team from's, owned by to's role
// (which must exist, EnsureRole), and says whether it is done. Every
// session on from's database is ended first: CREATE DATABASE … TEMPLATE
// needs none, so the caller stops the team's apps before. It is safe to
// call again after any failure or crash: each stage leaves a mark on the
// copy, and a copy that is whole is not made again. The stages:
//
//  1. CREATE DATABASE to TEMPLATE from OWNER to, closed to every
//     connection (ALLOW_CONNECTIONS false), within timeout;
//  2. its grants as Ensure makes them (only its role may connect), then
//     open to connections, marked as being handed over;
//  3. connected to it: what from's role owns there becomes to's role's
//     (REASSIGN OWNED, which also hands over from's own database; that is
//     given back in the same transaction), marked as a whole copy.
//
// A database of to's name that is none of these is ErrNotACopy, and a
// role or database buurt did not make for the team a *ConflictError.
func (s *SharedServer) Copy(ctx context.Context, from, to Tenant, timeout time.Duration) error {
	copied, err := copyMark(from.Team)
	if err != nil {
		return err
	}
	copying, _ := copyingMark(from.Team)
	for _, t := range []Tenant{from, to} {
		if exists, err := s.teamsRole(ctx, t); err != nil {
			return err
		} else if !exists {
			return fmt.Errorf("role %s of team %s does not exist", t.Name, t.Team)
		}
	}
	state, err := s.copyState(ctx, to.Name)
	if err != nil {
		return err
	}
	switch {
	case !state.exists:
		if err := s.createCopy(ctx, from, to, timeout); err != nil {
			return err
		}
		state.closed = true
	case state.owner != to.Name:
		return &ConflictError{Object: "database", Name: to.Name, Team: to.Team}
	case state.comment == copied:
		return nil
	case !state.closed && state.comment != copying:
		return ErrNotACopy
	}
	source, target := pgx.Identifier{from.Name}.Sanitize(), pgx.Identifier{to.Name}.Sanitize()
	if state.closed {
		err := s.execAll(ctx,
			"REVOKE CONNECT, TEMPORARY ON DATABASE "+target+" FROM PUBLIC",
			"GRANT CONNECT ON DATABASE "+target+" TO "+target,
			// Both marks are a DNS label in a fixed sentence: no quote can be
			// in them.
			"COMMENT ON DATABASE "+target+" IS '"+copying+"'",
			"ALTER DATABASE "+target+" ALLOW_CONNECTIONS true",
		)
		if err != nil {
			return fmt.Errorf("failed to restrict database %s to its role: %w", to.Name, err)
		}
	}
	err = s.inDatabase(ctx, to.Name, statementTimeout, func(ctx context.Context, conn *pgx.Conn) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for _, stmt := range []string{
				"REASSIGN OWNED BY " + source + " TO " + target,
				// REASSIGN OWNED hands over shared objects too: from's own
				// database, which goes back, its grants as they were.
				"ALTER DATABASE " + source + " OWNER TO " + source,
				"COMMENT ON DATABASE " + target + " IS '" + copied + "'",
			} {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("failed to give the copy's objects to role %s: %w", to.Name, err)
	}
	return nil
}

// copyState is what Copy reads of the new team's database.
type copyState struct {
	exists, closed bool
	owner, comment string
}

func (s *SharedServer) copyState(ctx context.Context, name string) (copyState, error) {
	state := copyState{exists: true}
	var comment *string
	err := s.breaker.do(ctx, statementTimeout, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, "SELECT pg_get_userbyid(datdba), NOT datallowconn, shobj_description(oid, 'pg_database') "+
			"FROM pg_database WHERE datname = $1", name).Scan(&state.owner, &state.closed, &comment)
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return copyState{}, nil
	case err != nil:
		return copyState{}, fmt.Errorf("failed to look up database %s: %w", name, err)
	}
	if comment != nil {
		state.comment = *comment
	}
	return state, nil
}

// objectInUse is the SQLSTATE of a template database someone is connected
// to.
const objectInUse = "55006"

// createCopy ends every session on from's database and makes the copy,
// closed to connections; should a session come back in between, it tries
// again, a few times.
func (s *SharedServer) createCopy(ctx context.Context, from, to Tenant, timeout time.Duration) error {
	stmt := "CREATE DATABASE " + pgx.Identifier{to.Name}.Sanitize() + " TEMPLATE " + pgx.Identifier{from.Name}.Sanitize() +
		" OWNER " + pgx.Identifier{to.Name}.Sanitize() + " ALLOW_CONNECTIONS false"
	var err error
	for range 3 {
		if _, err = s.endSessionsWhere(ctx, "datname", from.Name); err != nil {
			return fmt.Errorf("failed to end the sessions on database %s: %w", from.Name, err)
		}
		err = s.inDatabase(ctx, "", timeout, func(ctx context.Context, conn *pgx.Conn) error {
			_, err := conn.Exec(ctx, stmt)
			return err
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != objectInUse {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	if err != nil {
		return fmt.Errorf("failed to copy database %s to %s: %w", from.Name, to.Name, err)
	}
	return nil
}

// inDatabase runs f on a connection of its own to database name (the
// pool's, postgres, when ""), whose statements may take up to timeout:
// longer than the pool's, which a copy needs, or in another database than
// the pool's, which handing a copy's objects over needs.
func (s *SharedServer) inDatabase(ctx context.Context, name string, timeout time.Duration, f func(context.Context, *pgx.Conn) error) error {
	return s.breaker.do(ctx, timeout+connectTimeout+time.Second, func(ctx context.Context) error {
		cfg := s.pool.Config().ConnConfig.Copy()
		if name != "" {
			cfg.Database = name
		}
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(timeout.Milliseconds(), 10)
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer func() {
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pingTimeout)
			defer cancel()
			_ = conn.Close(closeCtx)
		}()
		return f(ctx, conn)
	})
}

package database

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsServerError reports whether err came from a shared server or from
// trying to reach it, as opposed to buurt's own checks.
func IsServerError(err error) bool {
	var pgErr *pgconn.PgError
	var connectErr *pgconn.ConnectError
	return err != nil && (errors.As(err, &pgErr) || errors.As(err, &connectErr) || cannotReach(err))
}

// explanations say in buurt's words what an SQLSTATE (or its class, the
// first two characters) means for buurt.
var explanations = map[string]string{
	"42501": "the admin user lacks a privilege buurt needs (CREATEROLE, CREATEDB, and CONNECT on database postgres)",
	"3D000": "database postgres, which buurt connects to, does not exist",
	"57014": "a statement did not finish in time",
	"53":    "the server is out of resources",
	"42":    "the server refused a statement",
	"55":    "an object is in use or not in the state the statement needs",
	"XX":    "the server had an internal error",
}

// Explain says in buurt's own words what err says about a shared server:
// the SQLSTATE it answered, or that it could not be reached. It never
// repeats the server's or the driver's text, which can name the admin user
// ("password authentication failed for user ...", "failed to connect to
// `user=...`"): it is for status and Events, which a team reads; the
// operator's log has the full error.
func Explain(err error) string {
	var pgErr *pgconn.PgError
	switch {
	case IsAuthenticationFailure(err):
		return "refused the admin Secret's login"
	case IsUnreachable(err):
		return "does not answer"
	case errors.As(err, &pgErr):
		what, ok := explanations[pgErr.Code]
		if !ok {
			what, ok = explanations[pgErr.Code[:min(2, len(pgErr.Code))]]
		}
		if !ok {
			what = "the server refused an operation"
		}
		return fmt.Sprintf("answered with SQLSTATE %s: %s", pgErr.Code, what)
	default:
		return "could not be talked to (a TLS or protocol failure, or an invalid answer)"
	}
}

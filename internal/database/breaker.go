package database

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// quietAfterFailure is how long a server that could not be reached is not
// asked again. Every team on that server shares one pool and so one breaker:
// a server that is down costs one deadline per period, not one per team and
// worker; and it is short, so a team is Ready again within seconds of the
// server's return.
const quietAfterFailure = 5 * time.Second

// breaker is the circuit breaker every call to a shared server goes
// through. A failure to reach the server opens it for quiet; while it is
// open, calls get the recorded failure at once. When the quiet period ends,
// one call asks the server while the others still get the recorded failure,
// so the server is asked at most once per period however many teams wait.
type breaker struct {
	quiet time.Duration

	mu sync.Mutex
	// failure is what opened the breaker; nil while it is closed.
	failure error
	// until is when, with the breaker open, the next call may ask the
	// server: the end of the quiet period, or of the deadline of the one
	// call asking after it.
	until time.Time
}

// do runs f with a deadline of timeout after ctx's, unless the breaker is
// open, and records what f's outcome says about the server.
func (b *breaker) do(ctx context.Context, timeout time.Duration, f func(context.Context) error) error {
	probe, err := b.admit(timeout)
	if err != nil {
		return err
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = f(callCtx)
	b.record(ctx, probe, err)
	return err
}

// admit lets a call through or, while the breaker is open, returns the
// recorded failure. probe is true for the one call let through to ask the
// server after the quiet period.
func (b *breaker) admit(timeout time.Duration) (probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failure == nil {
		return false, nil
	}
	now := time.Now()
	if now.Before(b.until) {
		return false, &quietError{err: b.failure}
	}
	b.until = now.Add(timeout)
	return true, nil
}

// record opens the breaker on a failure to reach the server and closes it
// on anything that shows the server answered. A call whose caller gave up
// (a shutdown, the caller's own deadline) shows nothing about the server
// and changes nothing, except that it lets the next call ask.
func (b *breaker) record(ctx context.Context, probe bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err == nil:
		b.failure = nil
	case ctx.Err() != nil:
		if probe {
			b.until = time.Now()
		}
	case cannotReach(err):
		b.failure, b.until = err, time.Now().Add(b.quiet)
	default:
		b.failure = nil
	}
}

// retryAfter is how long until a call may ask the server again; 0 while
// the breaker is closed.
func (b *breaker) retryAfter() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failure == nil {
		return 0
	}
	return max(time.Until(b.until), 0)
}

// quietError is what a call gets while the breaker is open: the failure
// that opened it, which errors.Is and errors.As find through it.
type quietError struct {
	err error
}

func (e *quietError) Error() string {
	return "not asking the server again so soon after: " + e.err.Error()
}

func (e *quietError) Unwrap() error {
	return e.err
}

// cannotReach reports whether err says the server could not be asked: no
// connection, no answer before the deadline, the server taking no (more)
// connections, or refusing the login. These open the breaker; an error a
// server that answered gives about a statement does not.
func cannotReach(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		// admin_shutdown, crash_shutdown, cannot_connect_now,
		// too_many_connections, invalid_authorization_specification,
		// invalid_password
		case "57P01", "57P02", "57P03", "53300", "28000", "28P01":
			return true
		}
		// connection_exception and its subclasses
		return strings.HasPrefix(pgErr.Code, "08")
	}
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, pgconn.ErrConnClosed)
}

// IsUnreachable reports whether err says the server could not be asked: it
// refused the connection, did not answer before the deadline, said it takes
// no connections now, or was not asked because it could not be reached a
// moment ago (see SharedServer.RetryAfter). A refused login opens the
// breaker too, but is IsAuthenticationFailure instead: the server answered,
// and the fix is in the admin Secret.
func IsUnreachable(err error) bool {
	return err != nil && cannotReach(err) && !IsAuthenticationFailure(err)
}

// IsAuthenticationFailure reports whether the server refused the login, now
// or when it was last asked.
func IsAuthenticationFailure(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// invalid_authorization_specification, invalid_password
		return pgErr.Code == "28000" || pgErr.Code == "28P01"
	}
	return false
}

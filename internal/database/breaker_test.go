package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/gomega"
)

func TestErrorClassification(t *testing.T) {
	pgErr := func(code string) error {
		return fmt.Errorf("failed to look up role x: %w", &pgconn.PgError{Code: code})
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		name              string
		err               error
		unreachable, auth bool
		opensBreaker      bool
	}{
		{"nil", nil, false, false, false},
		{"own deadline", context.DeadlineExceeded, true, false, true},
		{"refused connection", fmt.Errorf("failed to connect: %w", refused), true, false, true},
		{"connection dropped", fmt.Errorf("unexpected EOF: %w", io.ErrUnexpectedEOF), true, false, true},
		{"connection closed", fmt.Errorf("closed: %w", pgconn.ErrConnClosed), true, false, true},
		{"connection_failure", pgErr("08006"), true, false, true},
		{"admin_shutdown", pgErr("57P01"), true, false, true},
		{"crash_shutdown", pgErr("57P02"), true, false, true},
		{"cannot_connect_now", pgErr("57P03"), true, false, true},
		{"too_many_connections", pgErr("53300"), true, false, true},
		{"invalid_password", pgErr("28P01"), false, true, true},
		{"invalid_authorization_specification", pgErr("28000"), false, true, true},
		{"breaker open after a timeout", &quietError{err: context.DeadlineExceeded}, true, false, true},
		{"breaker open after a refused login", &quietError{err: pgErr("28P01")}, false, true, true},
		{"insufficient_privilege", pgErr("42501"), false, false, false},
		{"duplicate_object", pgErr("42710"), false, false, false},
		{"query_canceled by statement_timeout", pgErr("57014"), false, false, false},
		{"no rows", pgx.ErrNoRows, false, false, false},
		{"caller's cancellation", context.Canceled, false, false, false},
		{"refused verifier", errors.New("refusing a password that is not a SCRAM-SHA-256 verifier"), false, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(IsUnreachable(tc.err)).To(Equal(tc.unreachable), "IsUnreachable")
			g.Expect(IsAuthenticationFailure(tc.err)).To(Equal(tc.auth), "IsAuthenticationFailure")
			g.Expect(tc.err != nil && cannotReach(tc.err)).To(Equal(tc.opensBreaker), "cannotReach")
		})
	}
}

// call runs one call through b that counts itself in asked and fails with
// err.
func call(b *breaker, asked *int, err error) error {
	return b.do(context.Background(), time.Second, func(context.Context) error {
		*asked++
		return err
	})
}

func TestBreakerOpensOnlyOnAFailureToReach(t *testing.T) {
	g := NewWithT(t)
	const quiet = time.Hour
	b := &breaker{quiet: quiet}
	asked := 0
	sqlErr := &pgconn.PgError{Code: "42501"}
	g.Expect(call(b, &asked, sqlErr)).To(BeIdenticalTo(sqlErr))
	g.Expect(call(b, &asked, nil)).To(Succeed())
	g.Expect(asked).To(Equal(2), "an SQL error leaves the breaker closed")
	g.Expect(b.retryAfter()).To(BeZero())

	down := fmt.Errorf("failed to connect: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	g.Expect(call(b, &asked, down)).To(BeIdenticalTo(down))
	for range 5 {
		err := call(b, &asked, nil)
		g.Expect(err).To(MatchError(down))
		g.Expect(err).To(MatchError("not asking the server again so soon after: " + down.Error()))
	}
	g.Expect(asked).To(Equal(3), "an open breaker asks nobody")
	g.Expect(b.retryAfter()).To(And(BeNumerically(">", quiet-time.Minute), BeNumerically("<=", quiet)))
}

func TestBreakerIgnoresTheCallersCancellation(t *testing.T) {
	g := NewWithT(t)
	b := &breaker{quiet: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.do(ctx, time.Second, func(ctx context.Context) error { return ctx.Err() })
	g.Expect(err).To(MatchError(context.Canceled))
	g.Expect(b.retryAfter()).To(BeZero())

	// Even a deadline that ends before the call's own says nothing about the
	// server: the caller ran out of time.
	short, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	err = b.do(short, time.Hour, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	g.Expect(err).To(MatchError(context.DeadlineExceeded))
	g.Expect(b.retryAfter()).To(BeZero())
	asked := 0
	g.Expect(call(b, &asked, nil)).To(Succeed())
	g.Expect(asked).To(Equal(1))
}

func TestBreakerGivesEachCallItsOwnDeadline(t *testing.T) {
	g := NewWithT(t)
	b := &breaker{quiet: time.Hour}
	start := time.Now()
	err := b.do(context.Background(), 7*time.Second, func(ctx context.Context) error {
		deadline, ok := ctx.Deadline()
		g.Expect(ok).To(BeTrue())
		g.Expect(deadline.Sub(start)).To(And(BeNumerically(">=", 7*time.Second), BeNumerically("<", 8*time.Second)))
		return nil
	})
	g.Expect(err).NotTo(HaveOccurred())
}

// After the quiet period one call asks the server; the others get the
// recorded failure until it has its answer.
func TestBreakerLetsOneCallAskAfterTheQuietPeriod(t *testing.T) {
	g := NewWithT(t)
	const quiet = 50 * time.Millisecond
	b := &breaker{quiet: quiet}
	asked := 0
	down := pgconn.ErrConnClosed
	g.Expect(call(b, &asked, down)).To(MatchError(down))
	time.Sleep(quiet)

	release, probing := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- b.do(context.Background(), time.Hour, func(context.Context) error {
			close(probing)
			<-release
			return nil
		})
	}()
	<-probing
	for range 5 {
		g.Expect(call(b, &asked, nil)).To(MatchError(down))
	}
	g.Expect(asked).To(Equal(1), "only the probe asks")
	g.Expect(b.retryAfter()).To(BeNumerically(">", quiet), "until the probe's deadline")
	close(release)
	g.Expect(<-done).To(Succeed())
	g.Expect(b.retryAfter()).To(BeZero())
	g.Expect(call(b, &asked, nil)).To(Succeed())
	g.Expect(asked).To(Equal(2))
}

// A probe whose caller gives up lets the next call ask at once.
func TestBreakerCancelledProbeLetsTheNextCallAsk(t *testing.T) {
	g := NewWithT(t)
	const quiet = 50 * time.Millisecond
	b := &breaker{quiet: quiet}
	asked := 0
	g.Expect(call(b, &asked, pgconn.ErrConnClosed)).To(HaveOccurred())
	time.Sleep(quiet)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.do(ctx, time.Hour, func(ctx context.Context) error { return ctx.Err() })
	g.Expect(err).To(MatchError(context.Canceled))
	g.Expect(b.retryAfter()).To(BeZero())
	g.Expect(call(b, &asked, nil)).To(Succeed())
	g.Expect(asked).To(Equal(2))
}

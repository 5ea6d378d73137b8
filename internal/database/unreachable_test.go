package database

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/gomega"

	"github.com/buurt-dev/buurt/internal/freeport"
)

// asked counts what s's pool has done: connections handed out, waits for
// one given up, connections opened. A call that does not ask the server
// changes none of them.
func asked(s *SharedServer) int64 {
	st := s.pool.Stat()
	return st.AcquireCount() + st.CanceledAcquireCount() + st.NewConnsCount()
}

// pause freezes the test server, with its connections open, until the test
// ends or it resumes it.
func pause(t *testing.T) {
	t.Helper()
	NewWithT(t).Expect(server.Pause()).To(Succeed())
	t.Cleanup(func() {
		if err := server.Resume(); err != nil {
			t.Error(err)
		}
	})
}

// silentServer is a pool to a silentListener, and how many connections the
// listener took.
func silentServer(t *testing.T) (*SharedServer, *atomic.Int32) {
	t.Helper()
	a := admin()
	var accepted *atomic.Int32
	a.Port, accepted = silentListener(t)
	s, err := ConnectShared(context.Background(), a)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	t.Cleanup(s.Close)
	return s, accepted
}

// silentListener is a server that accepts connections and never speaks;
// accepted counts the connections.
func silentListener(t *testing.T) (port string, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	accepted = &atomic.Int32{}
	var open []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			_ = c.Close()
		}
	})
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			open = append(open, conn)
			mu.Unlock()
		}
	}()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port), accepted
}

func verifierFor(g Gomega, password string) string {
	verifier, err := SCRAMVerifier(password)
	g.Expect(err).NotTo(HaveOccurred())
	return verifier
}

// A server that hangs with its connections open (stopped, not gone) costs
// one deadline; until the quiet period ends every call gets that failure at
// once, without asking the server; once it answers again, so do calls.
func TestPausedServerIsAskedOncePerQuietPeriod(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := connectShared(g)
	t.Cleanup(s.Close)
	provision(g, s, "before-pause")
	g.Expect(s.pool.Stat().IdleConns()).To(BeNumerically(">", 0), "a pool in use has open connections")
	pause(t)

	start := time.Now()
	first := s.Ping(ctx)
	g.Expect(time.Since(start)).To(BeNumerically("<", 3*pingTimeout))
	g.Expect(IsUnreachable(first)).To(BeTrue(), "got %v", first)
	g.Expect(IsAuthenticationFailure(first)).To(BeFalse())
	g.Expect(s.RetryAfter()).To(And(BeNumerically(">", 0), BeNumerically("<=", quietAfterFailure)))

	before := asked(s)
	tenant := Tenant{Name: Name("during-pause"), Team: "during-pause"}
	for range 10 {
		g.Expect(s.Ping(ctx)).To(MatchError(first))
		err := s.Ensure(ctx, tenant, verifierFor(g, "during-pause"))
		g.Expect(err).To(MatchError(first))
		g.Expect(IsUnreachable(err)).To(BeTrue())
		g.Expect(s.Drop(ctx, tenant)).To(MatchError(first))
	}
	g.Expect(asked(s)).To(Equal(before), "no call during the quiet period asked the server")

	g.Expect(server.Resume()).To(Succeed())
	g.Eventually(s.RetryAfter).WithTimeout(2 * quietAfterFailure).WithPolling(50 * time.Millisecond).Should(BeZero())
	g.Expect(s.Ping(ctx)).To(Succeed())
	g.Expect(asked(s)).To(BeNumerically(">", before))
	provision(g, s, "after-pause")
	g.Expect(s.RetryAfter()).To(BeZero())
}

// A statement on a server that hangs ends within its own deadline, even
// though the caller's context has none.
func TestPausedServerFailsEnsureWithinItsDeadline(t *testing.T) {
	g := NewWithT(t)
	s := connectShared(g)
	t.Cleanup(s.Close)
	provision(g, s, "before-pause-ensure")
	pause(t)

	start := time.Now()
	err := s.Ensure(context.Background(), Tenant{Name: Name("paused-ensure"), Team: "paused-ensure"}, verifierFor(g, "paused"))
	g.Expect(time.Since(start)).To(BeNumerically("<", 3*statementTimeout))
	g.Expect(IsUnreachable(err)).To(BeTrue(), "got %v", err)
	g.Expect(err).To(MatchError(ContainSubstring("failed to look up database buurt_paused_ensure: ")))
	g.Expect(s.RetryAfter()).To(And(BeNumerically(">", 0), BeNumerically("<=", quietAfterFailure)))
}

// A server that is down (connections refused) opens the breaker as a silent
// one does.
func TestStoppedServerIsAskedOncePerQuietPeriod(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := connectShared(g)
	t.Cleanup(s.Close)
	g.Expect(s.Ping(ctx)).To(Succeed())
	server.Halt()
	halted := true
	t.Cleanup(func() {
		if halted {
			if err := server.Restart(ctx); err != nil {
				t.Error(err)
			}
		}
	})

	start := time.Now()
	first := s.Ping(ctx)
	g.Expect(time.Since(start)).To(BeNumerically("<", 3*pingTimeout))
	g.Expect(IsUnreachable(first)).To(BeTrue(), "got %v", first)
	before := asked(s)
	for range 10 {
		g.Expect(s.Ping(ctx)).To(MatchError(first))
		g.Expect(s.SetPassword(ctx, Name("stopped"), verifierFor(g, "stopped"))).To(MatchError(first))
	}
	g.Expect(asked(s)).To(Equal(before))
	g.Expect(s.RetryAfter()).To(And(BeNumerically(">", 0), BeNumerically("<=", quietAfterFailure)))

	g.Expect(server.Restart(ctx)).To(Succeed())
	halted = false
	g.Eventually(s.RetryAfter).WithTimeout(2 * quietAfterFailure).WithPolling(50 * time.Millisecond).Should(BeZero())
	g.Expect(s.Ping(ctx)).To(Succeed())
}

// A server that answers with an SQL error was reached: the error is the
// caller's, and the next call asks the server.
func TestSQLErrorsLeaveTheBreakerClosed(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	su, err := server.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	_, err = su.Exec(ctx, "CREATE ROLE login_only_admin LOGIN PASSWORD 'login-only'")
	g.Expect(err).NotTo(HaveOccurred())
	a := admin()
	a.User, a.Password = "login_only_admin", "login-only"
	s, err := ConnectShared(ctx, a)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(s.Close)

	err = s.Ensure(ctx, Tenant{Name: Name("no-rights"), Team: "no-rights"}, verifierFor(g, "no-rights"))
	var pgErr *pgconn.PgError
	g.Expect(errors.As(err, &pgErr)).To(BeTrue(), "got %v", err)
	g.Expect(pgErr.Code).To(Equal("42501"))
	g.Expect(IsUnreachable(err)).To(BeFalse())
	g.Expect(s.RetryAfter()).To(BeZero())

	err = s.exec(ctx, "SELECT * FROM no_such_table")
	g.Expect(errors.As(err, &pgErr)).To(BeTrue(), "got %v", err)
	g.Expect(pgErr.Code).To(Equal("42P01"))
	g.Expect(s.RetryAfter()).To(BeZero())

	before := asked(s)
	g.Expect(s.Ping(ctx)).To(Succeed())
	g.Expect(asked(s)).To(BeNumerically(">", before))
}

// A server that accepts connections and never speaks is asked once per
// quiet period, however many teams ask: the first call pays the deadline,
// the others get its failure; after the quiet period one call asks again,
// and calls at the same time still get the failure.
func TestSilentServerIsAskedOncePerQuietPeriod(t *testing.T) {
	g := NewWithT(t)
	s, accepted := silentServer(t)
	const quiet = 200 * time.Millisecond
	s.breaker.quiet = quiet

	start := time.Now()
	first := s.Ping(context.Background())
	g.Expect(time.Since(start)).To(BeNumerically("<", 3*pingTimeout))
	g.Expect(IsUnreachable(first)).To(BeTrue(), "got %v", first)
	for range 20 {
		g.Expect(s.Ping(context.Background())).To(MatchError(first))
	}
	g.Expect(accepted.Load()).To(Equal(int32(1)))

	time.Sleep(quiet)
	errs := make(chan error, 4)
	for range cap(errs) {
		go func() { errs <- s.Ping(context.Background()) }()
	}
	for range cap(errs) {
		g.Expect(IsUnreachable(<-errs)).To(BeTrue())
	}
	g.Expect(accepted.Load()).To(Equal(int32(2)), "one call asked after the quiet period")
}

// A caller that gives up (a shutdown) says nothing about the server: the
// breaker stays closed and the next call asks.
func TestCallersCancellationLeavesTheBreakerClosed(t *testing.T) {
	g := NewWithT(t)
	s, accepted := silentServer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	g.Expect(s.Ping(ctx)).To(MatchError(context.DeadlineExceeded))
	g.Expect(s.RetryAfter()).To(BeZero())
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	g.Expect(s.Ping(ctx)).To(MatchError(context.DeadlineExceeded))
	g.Eventually(accepted.Load).Should(Equal(int32(2)), "the second call asked the server")
}

// No error holds the admin password, whether the server refuses the login,
// refuses the connection or never answers, nor does the failure returned
// while the breaker is open.
func TestErrorsNeverHoldTheAdminPassword(t *testing.T) {
	const password = "admin-password-that-must-not-leak-7f3a"
	refused, err := freeport.Get()
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	silent, _ := silentListener(t)
	cases := []struct {
		name, port string
		check      func(g Gomega, err error)
	}{
		{"refused login", strconv.Itoa(server.Port), func(g Gomega, err error) {
			g.Expect(IsAuthenticationFailure(err)).To(BeTrue(), "got %v", err)
			g.Expect(IsUnreachable(err)).To(BeFalse())
			g.Expect(err).To(MatchError(ContainSubstring("password authentication failed")))
		}},
		{"refused connection", strconv.Itoa(refused), func(g Gomega, err error) {
			g.Expect(IsUnreachable(err)).To(BeTrue(), "got %v", err)
		}},
		{"silent server", silent, func(g Gomega, err error) {
			g.Expect(IsUnreachable(err)).To(BeTrue(), "got %v", err)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			ctx := context.Background()
			a := admin()
			a.Port, a.Password = tc.port, password
			s, err := ConnectShared(ctx, a)
			g.Expect(err).NotTo(HaveOccurred())
			t.Cleanup(s.Close)
			tenant := Tenant{Name: Name("leak"), Team: "leak"}
			for _, err := range []error{
				s.Ping(ctx),
				s.Ping(ctx), // from the breaker
				s.Ensure(ctx, tenant, verifierFor(g, "leak")),
				s.SetPassword(ctx, tenant.Name, verifierFor(g, "leak")),
				s.Drop(ctx, tenant),
			} {
				tc.check(g, err)
				g.Expect(err.Error()).NotTo(ContainSubstring(password))
				g.Expect(fmt.Sprintf("%+v", err)).NotTo(ContainSubstring(password))
			}
			g.Expect(s.RetryAfter()).To(BeNumerically(">", 0))
		})
	}

	a := admin()
	a.Port, a.Password = "not-a-port", password
	_, err = ConnectShared(context.Background(), a)
	NewWithT(t).Expect(err).To(MatchError("invalid admin connection settings for 127.0.0.1:not-a-port"))
}

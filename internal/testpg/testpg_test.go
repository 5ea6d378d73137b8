package testpg

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
)

// A paused server answers neither on a connection opened before nor on a
// new one; resumed, it answers again; and paused, it still stops promptly.
func TestPauseFreezesTheServerAndItsConnections(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s, err := Start(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = s.Stop() })
	open, err := s.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = open.Close(ctx) })

	g.Expect(s.Pause()).To(Succeed())
	t.Cleanup(func() { _ = s.Resume() })
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	g.Expect(open.Ping(short)).To(MatchError(ContainSubstring("timeout")), "the open connection's backend is stopped")
	short, cancel = context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = pgx.Connect(short, s.URI(AdminUser, s.Password, "postgres"))
	g.Expect(err).To(MatchError(ContainSubstring("timeout")), "a new connection gets no answer")

	g.Expect(s.Resume()).To(Succeed())
	g.Expect(s.Resume()).To(Succeed(), "resuming a running server does nothing")
	conn, err := s.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(conn.Ping(ctx)).To(Succeed())
	g.Expect(conn.Close(ctx)).To(Succeed())

	g.Expect(s.Pause()).To(Succeed())
	start := time.Now()
	g.Expect(s.Stop()).To(Succeed())
	// Halt kills what has not shut down after 30 s.
	g.Expect(time.Since(start)).To(BeNumerically("<", 20*time.Second), "a paused server is resumed and shut down, not killed")
}

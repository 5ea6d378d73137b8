package database

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
)

// TestPublicCanConnect proves the query against the server: a fresh role
// with no grants of its own connects exactly where PublicCanConnect says
// PUBLIC may, before and after the admin revokes it, and buurt's admin
// keeps its way in when it is granted back to it.
func TestPublicCanConnect(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	su, err := server.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	_, err = su.Exec(ctx, "CREATE ROLE hardening_probe LOGIN PASSWORD 'probe'")
	g.Expect(err).NotTo(HaveOccurred())
	s := connectShared(g)
	defer s.Close()
	connects := func(database string) bool {
		conn, err := pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), "hardening_probe", "probe", database, "disable"))
		if err != nil {
			g.Expect(err).To(MatchError(ContainSubstring("permission denied for database")))
			return false
		}
		g.Expect(conn.Close(ctx)).To(Succeed())
		return true
	}
	restore := func() {
		_, err := su.Exec(ctx, "GRANT CONNECT ON DATABASE postgres, template1 TO PUBLIC")
		g.Expect(err).NotTo(HaveOccurred())
	}
	defer restore()

	g.Expect(s.PublicCanConnect(ctx)).To(Equal([]string{"postgres", "template1"}))
	g.Expect([]bool{connects("postgres"), connects("template1")}).To(Equal([]bool{true, true}))

	_, err = su.Exec(ctx, "REVOKE CONNECT ON DATABASE template1 FROM PUBLIC")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.PublicCanConnect(ctx)).To(Equal([]string{"postgres"}))
	g.Expect([]bool{connects("postgres"), connects("template1")}).To(Equal([]bool{true, false}))

	// A grant to a role is not a grant to PUBLIC.
	_, err = su.Exec(ctx, "REVOKE CONNECT ON DATABASE postgres FROM PUBLIC; GRANT CONNECT ON DATABASE postgres TO hardening_probe")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.PublicCanConnect(ctx)).To(BeEmpty())
	g.Expect([]bool{connects("postgres"), connects("template1")}).To(Equal([]bool{true, false}))

	// An admin that is not a superuser needs CONNECT on postgres, where it
	// connects, and nothing on template1, which CREATE DATABASE copies
	// without connecting to it.
	_, err = su.Exec(ctx, "CREATE ROLE hardened_admin LOGIN CREATEROLE CREATEDB PASSWORD 'hardened-admin'")
	g.Expect(err).NotTo(HaveOccurred())
	limited := admin()
	limited.User, limited.Password = "hardened_admin", "hardened-admin"
	ls, err := ConnectShared(ctx, limited)
	g.Expect(err).NotTo(HaveOccurred())
	defer ls.Close()
	g.Expect(Explain(ls.Ping(ctx))).To(Equal("answered with SQLSTATE 42501: the admin user lacks a privilege buurt needs " +
		"(CREATEROLE, CREATEDB, and CONNECT on database postgres)"))
	_, err = su.Exec(ctx, "GRANT CONNECT ON DATABASE postgres TO hardened_admin")
	g.Expect(err).NotTo(HaveOccurred())
	provision(g, ls, "hardened")

	restore()
	g.Expect(s.PublicCanConnect(ctx)).To(Equal([]string{"postgres", "template1"}))
}

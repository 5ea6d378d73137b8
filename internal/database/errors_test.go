package database

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	. "github.com/onsi/gomega"

	"github.com/buurt-dev/buurt/internal/testpg"
)

func TestExplain(t *testing.T) {
	pgErr := func(code string) error {
		return fmt.Errorf("failed to create role x: %w", &pgconn.PgError{Code: code, Message: `role "buurt_admin" said something`})
	}
	for _, tc := range []struct {
		err       error
		server    bool
		explained string
	}{
		{pgErr("28P01"), true, "refused the admin Secret's login"},
		{context.DeadlineExceeded, true, "does not answer"},
		{pgErr("42501"), true, "answered with SQLSTATE 42501: the admin user lacks a privilege buurt needs (CREATEROLE, CREATEDB, and CONNECT on database postgres)"},
		{pgErr("42710"), true, "answered with SQLSTATE 42710: the server refused a statement"},
		{pgErr("53100"), true, "answered with SQLSTATE 53100: the server is out of resources"},
		{pgErr("P0001"), true, "answered with SQLSTATE P0001: the server refused an operation"},
		{errors.New("refusing team name"), false, "could not be talked to (a TLS or protocol failure, or an invalid answer)"},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(IsServerError(tc.err)).To(Equal(tc.server))
			g.Expect(Explain(tc.err)).To(Equal(tc.explained))
		})
	}
}

// TestExplainNeverNamesTheAdmin drives the failures whose PostgreSQL or
// driver text names the admin user, against the real server, and expects
// Explain to say what happened without it.
func TestExplainNeverNamesTheAdmin(t *testing.T) {
	ctx := context.Background()
	su, err := server.Connect(ctx)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	// An admin that may log in and nothing more.
	_, err = su.Exec(ctx, "CREATE ROLE powerless_admin LOGIN PASSWORD 'powerless-admin'")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())

	for _, tc := range []struct {
		name      string
		change    func(*Admin)
		named     bool // whether the driver's or server's text names the user
		explained string
	}{
		{"wrong password", func(a *Admin) { a.Password = "wrong" }, true, "refused the admin Secret's login"},
		{"wrong user", func(a *Admin) { a.User = "no_such_admin" }, true, "refused the admin Secret's login"},
		{"TLS the server does not offer", func(a *Admin) { a.SSLMode = "require" }, true,
			"could not be talked to (a TLS or protocol failure, or an invalid answer)"},
		{"an admin without CREATEROLE", func(a *Admin) { a.User, a.Password = "powerless_admin", "powerless-admin" }, false,
			"answered with SQLSTATE 42501: the admin user lacks a privilege buurt needs (CREATEROLE, CREATEDB, and CONNECT on database postgres)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			a := admin()
			tc.change(&a)
			s, err := ConnectShared(ctx, a)
			g.Expect(err).NotTo(HaveOccurred())
			defer s.Close()
			err = s.Ensure(ctx, Tenant{Name: Name("explained"), Team: "explained"}, verifierFor(g, "explained"))
			g.Expect(IsServerError(err)).To(BeTrue(), "got %v", err)
			if tc.named {
				g.Expect(err.Error()).To(ContainSubstring(a.User), "the driver's own text names the user")
			}
			g.Expect(Explain(err)).To(Equal(tc.explained))
			g.Expect(Explain(err)).NotTo(ContainSubstring(a.User))
			g.Expect(Explain(err)).NotTo(ContainSubstring(testpg.AdminUser))
		})
	}
}

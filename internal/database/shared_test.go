package database

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
)

// provision makes a team's database and returns its name and password.
func provision(g Gomega, s *SharedServer, team string) (name, password string) {
	name = Name(team)
	password, err := NewPassword()
	g.Expect(err).NotTo(HaveOccurred())
	verifier, err := SCRAMVerifier(password)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Ensure(context.Background(), name, verifier)).To(Succeed())
	return name, password
}

func connectShared(g Gomega) *SharedServer {
	s, err := ConnectShared(context.Background(), admin())
	g.Expect(err).NotTo(HaveOccurred())
	return s
}

func TestEnsureProvisionsAnIsolatedDatabase(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := connectShared(g)
	defer s.Close()
	name, password := provision(g, s, "provisioned")

	su, err := server.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	var canLogin, superuser, createRole, createDB bool
	g.Expect(su.QueryRow(ctx, "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1", name).
		Scan(&canLogin, &superuser, &createRole, &createDB)).To(Succeed())
	g.Expect([]bool{canLogin, superuser, createRole, createDB}).To(Equal([]bool{true, false, false, false}))
	var owner string
	g.Expect(su.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name).Scan(&owner)).To(Succeed())
	g.Expect(owner).To(Equal(name))
	var publicCanConnect bool
	g.Expect(su.QueryRow(ctx, "SELECT has_database_privilege('public', $1, 'CONNECT')", name).Scan(&publicCanConnect)).To(Succeed())
	g.Expect(publicCanConnect).To(BeFalse())

	conn, err := pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), name, password, name, "disable"))
	g.Expect(err).NotTo(HaveOccurred())
	_, err = conn.Exec(ctx, "CREATE TABLE rota (day date, nurse text)")
	g.Expect(err).NotTo(HaveOccurred(), "the role owns its database and can work in it")
	g.Expect(conn.Close(ctx)).To(Succeed())

	// Ensure again changes nothing and keeps the data.
	verifier, err := SCRAMVerifier("another-password-is-not-applied")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Ensure(ctx, name, verifier)).To(Succeed())
	conn, err = pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), name, password, name, "disable"))
	g.Expect(err).NotTo(HaveOccurred())
	var tables int
	g.Expect(conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'rota'").Scan(&tables)).To(Succeed())
	g.Expect(tables).To(Equal(1))
	g.Expect(conn.Close(ctx)).To(Succeed())
}

func TestIsolationMatrix(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := connectShared(g)
	defer s.Close()
	teams := []string{"iso-north", "iso-south", "iso-east", "iso-west", "iso-" + strings.Repeat("long", 13) + "er"} // 58 characters: a truncated, hashed name
	names := make([]string, len(teams))
	passwords := make([]string, len(teams))
	for i, team := range teams {
		names[i], passwords[i] = provision(g, s, team)
	}
	su, err := server.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()

	for i := range teams {
		for j := range teams {
			var privileged bool
			g.Expect(su.QueryRow(ctx, "SELECT has_database_privilege($1, $2, 'CONNECT')", names[i], names[j]).Scan(&privileged)).To(Succeed())
			g.Expect(privileged).To(Equal(i == j), "role %s on database %s", names[i], names[j])

			conn, err := pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), names[i], passwords[i], names[j], "disable"))
			if i == j {
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(conn.Close(ctx)).To(Succeed())
			} else {
				g.Expect(err).To(MatchError(ContainSubstring("permission denied for database")), "role %s on database %s", names[i], names[j])
			}
		}
	}
}

func TestSetPasswordReplacesTheOldOne(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := connectShared(g)
	defer s.Close()
	name, old := provision(g, s, "rotated")
	fresh, err := NewPassword()
	g.Expect(err).NotTo(HaveOccurred())
	verifier, err := SCRAMVerifier(fresh)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.SetPassword(ctx, name, verifier)).To(Succeed())

	conn, err := pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), name, fresh, name, "disable"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(conn.Close(ctx)).To(Succeed())
	_, err = pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), name, old, name, "disable"))
	g.Expect(err).To(MatchError(ContainSubstring("password authentication failed")))
}

func TestDropEndsSessionsAndRemovesDatabaseAndRole(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := connectShared(g)
	defer s.Close()
	name, password := provision(g, s, "dropped")
	open, err := pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), name, password, name, "disable"))
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = open.Close(ctx) }()

	g.Expect(s.Drop(ctx, name)).To(Succeed())
	role, database, err := s.Exists(ctx, name)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect([]bool{role, database}).To(Equal([]bool{false, false}))
	g.Expect(open.Ping(ctx)).NotTo(Succeed(), "the open session was ended")
	g.Expect(s.Drop(ctx, name)).To(Succeed(), "dropping again is not an error")
}

func TestWrongAdminPasswordIsReportedWithoutIt(t *testing.T) {
	g := NewWithT(t)
	a := admin()
	a.Password = "wrong-admin-password-1234"
	s, err := ConnectShared(context.Background(), a)
	g.Expect(err).NotTo(HaveOccurred())
	defer s.Close()
	err = s.Ping(context.Background())
	g.Expect(err).To(MatchError(ContainSubstring("password authentication failed")))
	g.Expect(err.Error()).NotTo(ContainSubstring(a.Password))
}

func TestPasswordLiteralRefusesAnythingButAVerifier(t *testing.T) {
	g := NewWithT(t)
	for _, bad := range []string{"plain", "SCRAM-SHA-256$4096:abc$def:gh'; DROP ROLE x; --", "md5abcdef", ""} {
		_, err := passwordLiteral(bad)
		g.Expect(err).To(MatchError("refusing a password that is not a SCRAM-SHA-256 verifier"), bad)
	}
	verifier, err := SCRAMVerifier("x")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(passwordLiteral(verifier)).To(Equal("'" + verifier + "'"))
}

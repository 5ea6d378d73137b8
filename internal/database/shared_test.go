package database

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"

	"github.com/buurt-dev/buurt/internal/testpg"
)

// provision makes a team's database and returns its name and password.
func provision(g Gomega, s *SharedServer, team string) (name, password string) {
	name = Name(team)
	password, err := NewPassword()
	g.Expect(err).NotTo(HaveOccurred())
	verifier, err := SCRAMVerifier(password)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Ensure(context.Background(), Tenant{Name: name, Team: team}, verifier)).To(Succeed())
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
	g.Expect(s.Ensure(ctx, Tenant{Name: name, Team: "provisioned"}, verifier)).To(Succeed())
	conn, err = pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), name, password, name, "disable"))
	g.Expect(err).NotTo(HaveOccurred())
	var tables int
	g.Expect(conn.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'rota'").Scan(&tables)).To(Succeed())
	g.Expect(tables).To(Equal(1))
	g.Expect(conn.Close(ctx)).To(Succeed())
}

// TestEnsureWritesNothingWhenAllIsInPlaceAndRepairsTheGrants: looking again
// for drift leaves the catalog as it is (the database's row keeps its
// xmin), and a grant to PUBLIC made by hand is taken back.
func TestEnsureWritesNothingWhenAllIsInPlaceAndRepairsTheGrants(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := connectShared(g)
	defer s.Close()
	name, _ := provision(g, s, "in-place")
	su, err := server.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	row := func() (xmin string, publicCanConnect bool) {
		g.Expect(su.QueryRow(ctx, "SELECT xmin::text, has_database_privilege('public', oid, 'CONNECT') FROM pg_database WHERE datname = $1", name).
			Scan(&xmin, &publicCanConnect)).To(Succeed())
		return xmin, publicCanConnect
	}
	before, _ := row()
	verifier, err := SCRAMVerifier("unused")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Ensure(ctx, Tenant{Name: name, Team: "in-place"}, verifier)).To(Succeed())
	after, _ := row()
	g.Expect(after).To(Equal(before), "Ensure wrote the database's catalog row")

	_, err = su.Exec(ctx, "GRANT CONNECT ON DATABASE "+pgx.Identifier{name}.Sanitize()+" TO PUBLIC")
	g.Expect(err).NotTo(HaveOccurred())
	_, publicCanConnect := row()
	g.Expect(publicCanConnect).To(BeTrue())
	g.Expect(s.Ensure(ctx, Tenant{Name: name, Team: "in-place"}, verifier)).To(Succeed())
	_, publicCanConnect = row()
	g.Expect(publicCanConnect).To(BeFalse())
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

	g.Expect(s.Drop(ctx, Tenant{Name: name, Team: "dropped"})).To(Succeed())
	role, database, err := s.Exists(ctx, name)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect([]bool{role, database}).To(Equal([]bool{false, false}))
	g.Expect(open.Ping(ctx)).NotTo(Succeed(), "the open session was ended")
	g.Expect(s.Drop(ctx, Tenant{Name: name, Team: "dropped"})).To(Succeed(), "dropping again is not an error")
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

// An admin with CREATEROLE and CREATEDB, not a superuser, is all buurt needs:
// what a platform engineer would hand an operator.
func TestLeastPrivilegedAdmin(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	su, err := server.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	_, err = su.Exec(ctx, "CREATE ROLE limited_admin LOGIN CREATEROLE CREATEDB PASSWORD 'limited-admin'")
	g.Expect(err).NotTo(HaveOccurred())
	limited := admin()
	limited.User, limited.Password = "limited_admin", "limited-admin"
	s, err := ConnectShared(ctx, limited)
	g.Expect(err).NotTo(HaveOccurred())
	defer s.Close()

	name, password := provision(g, s, "limited")
	var owner string
	g.Expect(su.QueryRow(ctx, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1", name).Scan(&owner)).To(Succeed())
	g.Expect(owner).To(Equal(name))
	open, err := pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), name, password, name, "disable"))
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = open.Close(ctx) }()
	fresh, err := SCRAMVerifier("a-fresh-password")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.SetPassword(ctx, name, fresh)).To(Succeed())

	g.Expect(s.Drop(ctx, Tenant{Name: name, Team: "limited"})).To(Succeed())
	role, database, err := s.Exists(ctx, name)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect([]bool{role, database}).To(Equal([]bool{false, false}))
	g.Expect(open.Ping(ctx)).NotTo(Succeed(), "the open session was ended")
}

// A role or database of a team's name that buurt did not make for that team
// is never taken over, changed or dropped: not the admin's own account, not
// another team's.
func TestEnsureAndDropNeverTakeOverARole(t *testing.T) {
	ctx := context.Background()
	su, err := server.Connect(ctx)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	_, err = su.Exec(ctx, "CREATE ROLE buurt_bystander LOGIN PASSWORD 'bystander-password'")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	_, err = su.Exec(ctx, "CREATE DATABASE buurt_orphan")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	s := connectShared(NewWithT(t))
	defer s.Close()
	provision(NewWithT(t), s, "taken")

	cases := []struct {
		name   string
		tenant Tenant
		want   string
	}{
		{"the admin itself", Tenant{Name: testpg.AdminUser, Team: "admin"},
			"role " + testpg.AdminUser + " exists on the server and buurt did not make it for team admin; buurt does not take it over"},
		{"a role made by hand", Tenant{Name: "buurt_bystander", Team: "bystander"},
			"role buurt_bystander exists on the server and buurt did not make it for team bystander; buurt does not take it over"},
		{"another team's role", Tenant{Name: Name("taken"), Team: "impostor"},
			"role buurt_taken exists on the server and buurt made it for another team than impostor; buurt does not take it over"},
		{"a database made by hand", Tenant{Name: "buurt_orphan", Team: "orphan"},
			"database buurt_orphan exists on the server and buurt did not make it for team orphan; buurt does not take it over"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			verifier, err := SCRAMVerifier("an-attackers-password")
			g.Expect(err).NotTo(HaveOccurred())
			err = s.Ensure(ctx, tc.tenant, verifier)
			var conflict *ConflictError
			g.Expect(errors.As(err, &conflict)).To(BeTrue(), "got %v", err)
			g.Expect(err.Error()).To(Equal(tc.want))
			if tc.tenant.Name != "buurt_orphan" {
				err = s.Drop(ctx, tc.tenant)
				g.Expect(errors.As(err, &conflict)).To(BeTrue(), "got %v", err)
			}
			role, database, err := s.Exists(ctx, tc.tenant.Name)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(role || database).To(BeTrue(), "still there")
		})
	}
	conn, err := pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), "buurt_bystander", "bystander-password", "postgres", "disable"))
	NewWithT(t).Expect(err).NotTo(HaveOccurred(), "the bystander's password is unchanged")
	NewWithT(t).Expect(conn.Close(ctx)).To(Succeed())
	_, err = server.Connect(ctx)
	NewWithT(t).Expect(err).NotTo(HaveOccurred(), "the admin's password is unchanged")
	// An orphan database buurt refused is still not dropped at deletion.
	NewWithT(t).Expect(s.Drop(ctx, Tenant{Name: "buurt_orphan", Team: "orphan"})).To(Succeed())
	_, database, err := s.Exists(ctx, "buurt_orphan")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	NewWithT(t).Expect(database).To(BeTrue())
}

// TestTenantKeepsTheNameATeamWasGiven: a team whose role buurt made under
// the names of before (a 58-character team's cut name) keeps it; a team
// whose name spells out that name is refused it and says whose it is not;
// a team without a role gets Name's.
func TestTenantKeepsTheNameATeamWasGiven(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := connectShared(g)
	defer s.Close()
	long := "tenant-" + strings.Repeat("k", 51)
	// What buurt before this change named and marked the long team's role.
	old := "buurt_tenant_" + strings.Repeat("k", 41) + "_0123abcd"
	mimic := "tenant-" + strings.Repeat("k", 41) + "-0123abcd"
	g.Expect([]int{len(long), len(old), len(mimic)}).To(Equal([]int{58, 63, 57}))
	su, err := server.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	for _, stmt := range []string{
		"CREATE ROLE " + old + " LOGIN",
		"COMMENT ON ROLE " + old + " IS 'buurt: database of team " + long + "'",
		"CREATE DATABASE " + old + " OWNER " + old,
	} {
		_, err := su.Exec(ctx, stmt)
		g.Expect(err).NotTo(HaveOccurred())
	}

	got, err := s.Tenant(ctx, long)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(Tenant{Name: old, Team: long, Found: true}))
	verifier, err := SCRAMVerifier("unused")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(s.Ensure(ctx, got, verifier)).To(Succeed(), "the long team's database is its own")

	got, err = s.Tenant(ctx, mimic)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(Tenant{Name: old, Team: mimic}), "Name gives the mimic the old name")
	g.Expect(s.Ensure(ctx, got, verifier)).To(MatchError(
		"role " + old + " exists on the server and buurt made it for another team than " + mimic + "; buurt does not take it over"))

	fresh := "tenant-fresh-" + strings.Repeat("f", 45)
	got, err = s.Tenant(ctx, fresh)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got).To(Equal(Tenant{Name: Name(fresh), Team: fresh}))
	g.Expect(got.Name).To(HavePrefix("buurt__tenant_fresh_"))

	// A second role marked as the long team's, by hand: buurt uses neither.
	for _, stmt := range []string{
		"CREATE ROLE tenant_copy",
		"COMMENT ON ROLE tenant_copy IS 'buurt: database of team " + long + "'",
	} {
		_, err := su.Exec(ctx, stmt)
		g.Expect(err).NotTo(HaveOccurred())
	}
	_, err = s.Tenant(ctx, long)
	g.Expect(err).To(MatchError("roles " + old + ", tenant_copy on the server are all marked as the database of team " + long +
		"; buurt uses none of them"))
}

// Exists reports whether the team's role and database exist, for the tests.
func (s *SharedServer) Exists(ctx context.Context, name string) (role, database bool, err error) {
	if role, err = s.exists(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name); err != nil {
		return false, false, err
	}
	database, err = s.exists(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name)
	return role, database, err
}

func (s *SharedServer) exists(ctx context.Context, query, name string) (bool, error) {
	var found bool
	if err := s.queryRow(ctx, &found, query, name); err != nil {
		return false, fmt.Errorf("failed to look up %s: %w", name, err)
	}
	return found, nil
}

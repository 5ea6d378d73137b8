package database

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
)

// TestCopyGivesTheNewTeamItsOwnCopy: the new team's role gets a whole copy
// of the source's database, owns everything in it and alone may connect; the
// source keeps its database exactly as it was (owner, grants, data); a
// session on the source is ended for the copy; a second Copy changes
// nothing. Both with a superuser and with the least-privileged admin.
func TestCopyGivesTheNewTeamItsOwnCopy(t *testing.T) {
	ctx := context.Background()
	su, err := server.Connect(ctx)
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	_, err = su.Exec(ctx, "CREATE ROLE copy_admin LOGIN CREATEROLE CREATEDB PASSWORD 'copy-admin'")
	NewWithT(t).Expect(err).NotTo(HaveOccurred())
	limited := admin()
	limited.User, limited.Password = "copy_admin", "copy-admin"

	for name, a := range map[string]Admin{"superuser": admin(), "limited": limited} {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			s, err := ConnectShared(ctx, a)
			g.Expect(err).NotTo(HaveOccurred())
			defer s.Close()
			fromTeam, toTeam := "copy-river-"+name, "copy-hill-"+name
			fromName, fromPassword := provision(g, s, fromTeam)
			conn := connectAs(g, fromName, fromPassword, fromName)
			for _, stmt := range []string{
				"CREATE TABLE rota (id serial PRIMARY KEY, nurse text)",
				"INSERT INTO rota (nurse) VALUES ('Sanne')",
				"CREATE VIEW nurses AS SELECT nurse FROM rota",
				"CREATE SCHEMA planning",
				"CREATE TABLE planning.visits (day date)",
			} {
				_, err := conn.Exec(ctx, stmt)
				g.Expect(err).NotTo(HaveOccurred(), stmt)
			}
			before := databaseRow(g, su, fromName)

			toName, toPassword := Name(toTeam), "copy-password"
			verifier, err := SCRAMVerifier(toPassword)
			g.Expect(err).NotTo(HaveOccurred())
			to := Tenant{Name: toName, Team: toTeam}
			g.Expect(s.EnsureRole(ctx, to, verifier)).To(Succeed())
			g.Expect(databaseRow(g, su, toName)).To(BeEmpty(), "EnsureRole makes no database")
			size, err := s.Size(ctx, fromName)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(size).To(BeNumerically(">", 1<<20))

			g.Expect(s.Copy(ctx, Tenant{Name: fromName, Team: fromTeam, Found: true}, Tenant{Name: toName, Team: toTeam, Found: true},
				time.Minute)).To(Succeed())
			g.Expect(conn.Ping(ctx)).NotTo(Succeed(), "the source's session was ended for the copy")
			g.Expect(databaseRow(g, su, fromName)).To(Equal(before), "the source's database is as it was")
			g.Expect(databaseRow(g, su, toName)).To(Equal(fmt.Sprintf("%s|t|{%s=CTc/%s}|buurt: copy of the database of team %s",
				toName, toName, toName, fromTeam)))

			copied := connectAs(g, toName, toPassword, toName)
			defer func() { _ = copied.Close(ctx) }()
			var nurse string
			g.Expect(copied.QueryRow(ctx, "SELECT nurse FROM nurses").Scan(&nurse)).To(Succeed())
			g.Expect(nurse).To(Equal("Sanne"))
			for _, stmt := range []string{
				"INSERT INTO rota (nurse) VALUES ('Sofie')",
				"ALTER TABLE rota ADD COLUMN shift text",
				"INSERT INTO planning.visits VALUES (now())",
				"DROP VIEW nurses",
			} {
				_, err := copied.Exec(ctx, stmt)
				g.Expect(err).NotTo(HaveOccurred(), "the new team owns what it copied: %s", stmt)
			}
			var foreign int
			g.Expect(copied.QueryRow(ctx, "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "+
				"WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND pg_get_userbyid(c.relowner) <> $1", toName).
				Scan(&foreign)).To(Succeed())
			g.Expect(foreign).To(BeZero(), "no object in the copy is the source's")

			again := connectAs(g, fromName, fromPassword, fromName)
			var rows int
			g.Expect(again.QueryRow(ctx, "SELECT count(*) FROM rota").Scan(&rows)).To(Succeed())
			g.Expect(rows).To(Equal(1), "the source's data is its own")
			g.Expect(again.Close(ctx)).To(Succeed())
			_, err = pgx.Connect(ctx, URI(server.Host, fmt.Sprint(server.Port), fromName, fromPassword, toName, "disable"))
			g.Expect(err).To(HaveOccurred(), "the source's role may not connect to the copy")

			// Again: done is done.
			g.Expect(s.Copy(ctx, Tenant{Name: fromName, Team: fromTeam, Found: true}, to, time.Minute)).To(Succeed())
			g.Expect(copied.QueryRow(ctx, "SELECT count(*) FROM rota").Scan(&rows)).To(Succeed())
			g.Expect(rows).To(Equal(2), "a second Copy keeps what the new team wrote")
		})
	}
}

// TestCopyPicksUpWhereItStopped: a copy interrupted after CREATE DATABASE
// (closed to connections) or after its grants (being handed over) is
// finished by the next Copy; a database that is not a copy is not touched.
func TestCopyPicksUpWhereItStopped(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s := connectShared(g)
	defer s.Close()
	su, err := server.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	fromName, fromPassword := provision(g, s, "resume-from")
	conn := connectAs(g, fromName, fromPassword, fromName)
	_, err = conn.Exec(ctx, "CREATE TABLE rota (nurse text); INSERT INTO rota VALUES ('Sem')")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(conn.Close(ctx)).To(Succeed())
	from := Tenant{Name: fromName, Team: "resume-from", Found: true}

	for stage, interrupt := range map[string]func(to Tenant){
		"created": func(to Tenant) { g.Expect(s.createCopy(ctx, from, to, time.Minute)).To(Succeed()) },
		"granted": func(to Tenant) {
			g.Expect(s.createCopy(ctx, from, to, time.Minute)).To(Succeed())
			_, err := su.Exec(ctx, fmt.Sprintf("COMMENT ON DATABASE %[1]s IS 'buurt: copy of the database of team resume-from, being handed over'; "+
				"ALTER DATABASE %[1]s ALLOW_CONNECTIONS true", pgx.Identifier{to.Name}.Sanitize()))
			g.Expect(err).NotTo(HaveOccurred())
		},
	} {
		team := "resume-" + stage
		to := Tenant{Name: Name(team), Team: team, Found: true}
		verifier, err := SCRAMVerifier("resume-password")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(s.EnsureRole(ctx, to, verifier)).To(Succeed())
		interrupt(to)
		g.Expect(s.Copy(ctx, from, to, time.Minute)).To(Succeed(), stage)
		copied := connectAs(g, to.Name, "resume-password", to.Name)
		var nurse, owner string
		g.Expect(copied.QueryRow(ctx, "SELECT nurse, pg_get_userbyid(relowner) FROM rota, pg_class WHERE relname = 'rota'").
			Scan(&nurse, &owner)).To(Succeed(), stage)
		g.Expect([]string{nurse, owner}).To(Equal([]string{"Sem", to.Name}), stage)
		g.Expect(copied.Close(ctx)).To(Succeed())
	}

	// A database made empty (Ensure) is not a copy: Copy leaves it.
	emptyName, _ := provision(g, s, "resume-empty")
	err = s.Copy(ctx, from, Tenant{Name: emptyName, Team: "resume-empty", Found: true}, time.Minute)
	g.Expect(err).To(MatchError(ErrNotACopy))
}

// TestCopyEstimate: a few seconds for a small database, about a second per
// 50 MiB beyond; the deadline four times that, at least two minutes.
func TestCopyEstimate(t *testing.T) {
	g := NewWithT(t)
	g.Expect(CopyEstimate(8 << 20)).To(Equal(5 * time.Second))
	g.Expect(CopyEstimate(10 << 30)).To(Equal(209 * time.Second))
	g.Expect(CopyTimeout(8 << 20)).To(Equal(2 * time.Minute))
	g.Expect(CopyTimeout(10 << 30)).To(Equal(836 * time.Second))
}

// TestSizes: one statement reads the sizes of the databases named, as the
// least-privileged admin too; a name with no database is left out, and
// Size says so.
func TestSizes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	su, err := server.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	defer func() { _ = su.Close(ctx) }()
	_, err = su.Exec(ctx, "CREATE ROLE sizes_admin LOGIN CREATEROLE CREATEDB PASSWORD 'sizes-admin'")
	g.Expect(err).NotTo(HaveOccurred())
	limited := admin()
	limited.User, limited.Password = "sizes_admin", "sizes-admin"
	s, err := ConnectShared(ctx, limited)
	g.Expect(err).NotTo(HaveOccurred())
	defer s.Close()
	river, _ := provision(g, s, "sizes-river")
	hill, _ := provision(g, s, "sizes-hill")
	_, err = su.Exec(ctx, "CREATE DATABASE sizes_elsewhere")
	g.Expect(err).NotTo(HaveOccurred())

	sizes, err := s.Sizes(ctx, []string{river, hill, "sizes_elsewhere", "buurt_nobody"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(sizes).To(HaveLen(3))
	for _, name := range []string{river, hill, "sizes_elsewhere"} {
		var want int64
		g.Expect(su.QueryRow(ctx, "SELECT pg_database_size($1)", name).Scan(&want)).To(Succeed())
		g.Expect(sizes).To(HaveKeyWithValue(name, want))
	}
	_, err = s.Size(ctx, "buurt_nobody")
	g.Expect(err).To(MatchError("failed to read the size of database buurt_nobody: it does not exist"))
}

func connectAs(g Gomega, user, password, database string) *pgx.Conn {
	conn, err := pgx.Connect(context.Background(), URI(server.Host, fmt.Sprint(server.Port), user, password, database, "disable"))
	g.Expect(err).NotTo(HaveOccurred())
	return conn
}

// databaseRow is a database's owner, whether it takes connections, its
// grants and its comment, as one string; "" when it does not exist.
func databaseRow(g Gomega, su *pgx.Conn, name string) string {
	var row string
	err := su.QueryRow(context.Background(), "SELECT concat_ws('|', pg_get_userbyid(datdba), datallowconn, datacl, "+
		"shobj_description(oid, 'pg_database')) FROM pg_database WHERE datname = $1", name).Scan(&row)
	if errors.Is(err, pgx.ErrNoRows) {
		return ""
	}
	g.Expect(err).NotTo(HaveOccurred())
	return row
}

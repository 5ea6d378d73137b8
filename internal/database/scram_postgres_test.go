package database

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/gomega"
)

// TestSCRAMVerifierAgainstPostgres proves the verifier with a real server
// both ways: a role created with buurt's verifier logs in with the password
// (and not with another), and the verifier PostgreSQL computes itself for a
// password is the one buurt computes from the same salt.
func TestSCRAMVerifierAgainstPostgres(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	admin, err := server.Connect(ctx)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = admin.Close(ctx) })

	password, err := NewPassword()
	g.Expect(err).NotTo(HaveOccurred())
	verifier, err := SCRAMVerifier(password)
	g.Expect(err).NotTo(HaveOccurred())
	role := Name("scram-check")
	// The server's own format() quotes the identifier and the literal.
	var stmt string
	g.Expect(admin.QueryRow(ctx, "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)", role, verifier).
		Scan(&stmt)).To(Succeed())
	_, err = admin.Exec(ctx, stmt)
	g.Expect(err).NotTo(HaveOccurred())

	conn, err := pgx.Connect(ctx, server.URI(role, password, "postgres"))
	g.Expect(err).NotTo(HaveOccurred(), "login with the password behind buurt's verifier")
	var who string
	g.Expect(conn.QueryRow(ctx, "SELECT current_user").Scan(&who)).To(Succeed())
	g.Expect(who).To(Equal(role))
	g.Expect(conn.Close(ctx)).To(Succeed())

	_, err = pgx.Connect(ctx, server.URI(role, password+"x", "postgres"))
	g.Expect(err).To(MatchError(ContainSubstring("password authentication failed")))

	// PostgreSQL's own verifier for a password it hashed itself.
	_, err = admin.Exec(ctx, "SET password_encryption = 'scram-sha-256'")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(admin.QueryRow(ctx, "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", role, "plain-text-1").
		Scan(&stmt)).To(Succeed())
	_, err = admin.Exec(ctx, stmt)
	g.Expect(err).NotTo(HaveOccurred())
	var stored string
	g.Expect(admin.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored)).To(Succeed())
	// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
	parts := strings.SplitN(strings.TrimPrefix(stored, "SCRAM-SHA-256$"), "$", 2)
	g.Expect(parts).To(HaveLen(2), stored)
	iterSalt := strings.SplitN(parts[0], ":", 2)
	iterations, err := strconv.Atoi(iterSalt[0])
	g.Expect(err).NotTo(HaveOccurred())
	salt, err := base64.StdEncoding.DecodeString(iterSalt[1])
	g.Expect(err).NotTo(HaveOccurred())
	ours, err := scramVerifier("plain-text-1", salt, iterations)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ours).To(Equal(stored))
}

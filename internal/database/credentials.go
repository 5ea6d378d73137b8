// Package database provisions each team's database. This file holds what
// must be right before any SQL is sent: the names of a team's role and
// database, its password, and the SCRAM verifier that goes to the server
// instead of the password.
package database

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

const (
	// maxIdentifier is PostgreSQL's limit on an identifier, in bytes.
	maxIdentifier = 63
	// namePrefix marks the roles and databases buurt made on a shared
	// server.
	namePrefix = "buurt_"
	// scramIterations is PostgreSQL's own default iteration count.
	scramIterations = 4096
	// passwordBytes of randomness: 256 bits, above the 160 the design asks.
	passwordBytes = 32
)

// Name is the role and database name of a team on a shared server: buurt_
// and the team's name with '-' as '_'. Team names are lowercase DNS labels
// and never contain '_', so distinct teams get distinct names; a name longer
// than PostgreSQL's 63 bytes is cut and given a hash of the whole name, which
// keeps it distinct.
func Name(team string) string {
	name := namePrefix + strings.ReplaceAll(team, "-", "_")
	if len(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "_" + hex.EncodeToString(sum[:])[:8]
	return name[:maxIdentifier-len(suffix)] + suffix
}

// NewPassword returns a random password of 256 bits, URL-safe so it can stand
// in a connection URI unescaped.
func NewPassword() (string, error) {
	b := make([]byte, passwordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("failed to generate a password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SCRAMVerifier is what PostgreSQL stores for a SCRAM-SHA-256 password
// (RFC 5802, RFC 7677). buurt computes it and sends only this, so the
// password itself never reaches the server, its logs or its statistics.
func SCRAMVerifier(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("failed to generate a salt: %w", err)
	}
	return scramVerifier(password, salt, scramIterations)
}

func scramVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("failed to derive the SCRAM key: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(storedKey[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, message string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(message))
	return mac.Sum(nil)
}

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
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"strings"
)

const (
	// maxIdentifier is PostgreSQL's limit on an identifier, in bytes.
	maxIdentifier = 63
	// namePrefix marks the roles and databases buurt made on a shared
	// server.
	namePrefix = "buurt_"
	// cutPrefix starts the names that are cut to fit.
	cutPrefix = namePrefix + "_"
	// hashLength is how many characters of hashEncoding a cut name ends
	// with: 100 bits.
	hashLength = 20
	// scramIterations is PostgreSQL's own default iteration count.
	scramIterations = 4096
	// passwordBytes of randomness: 256 bits, above the 160 the design asks.
	passwordBytes = 32
)

// Name is the role and database name buurt gives a new team on a shared
// server: buurt_ and the team's name with '-' as '_'. Team names are
// lowercase DNS labels of at most 58 characters and never contain '_', so
// distinct teams get distinct names. A name longer than PostgreSQL's 63
// bytes (a team name of 58 characters) starts with buurt__ instead, which
// no uncut name can (a team name starts with a letter or digit), and is cut
// and given 100 bits of a hash of the team's whole name: a cut name can
// equal neither an uncut one nor, short of a hash collision, another cut
// one.
//
// Before, a cut name was buurt_, 48 characters and 8 hex digits of a hash,
// which a 57-character team name could spell out and take. Such names stay
// in use: a team's database is found by the team named in its role's mark
// (see SharedServer.Tenant), and Name only names one that does not exist
// yet.
func Name(team string) string {
	name := namePrefix + strings.ReplaceAll(team, "-", "_")
	if len(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(team))
	suffix := "_" + hashEncoding.EncodeToString(sum[:])[:hashLength]
	return (cutPrefix + name[len(namePrefix):])[:maxIdentifier-len(suffix)] + suffix
}

// hashEncoding writes a hash with what an unquoted identifier may hold.
var hashEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

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

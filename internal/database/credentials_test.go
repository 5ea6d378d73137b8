package database

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestName(t *testing.T) {
	long := strings.Repeat("a", 58)
	// base32 (a-z, 2-7) of the SHA-256 of the team name, its first 20
	// characters: computed here as the server's admin would by hand.
	sum := sha256.Sum256([]byte(long))
	longHash := strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:20]
	cases := []struct {
		team, want string
	}{
		{"north-riverside", "buurt_north_riverside"},
		{"a", "buurt_a"},
		// 6 + 57 = 63 bytes: fits exactly.
		{strings.Repeat("b", 57), "buurt_" + strings.Repeat("b", 57)},
		// 6 + 58 = 64 bytes: buurt__, cut, and 100 bits of a hash of the
		// team's whole name.
		{long, "buurt__" + strings.Repeat("a", 35) + "_" + longHash},
	}
	for _, tc := range cases {
		t.Run(tc.team, func(t *testing.T) {
			g := NewWithT(t)
			g.Expect(Name(tc.team)).To(Equal(tc.want))
		})
	}
}

func TestNamesOfLongTeamsStayDistinct(t *testing.T) {
	g := NewWithT(t)
	prefix := strings.Repeat("x", 55)
	seen := map[string]string{}
	for _, suffix := range []string{"abc", "abd", "a-b", "ab0"} {
		team := prefix + suffix
		name := Name(team)
		g.Expect(len(name)).To(BeNumerically("<=", 63))
		g.Expect(seen).NotTo(HaveKey(name), "%s and %s share %s", team, seen[name], name)
		seen[name] = team
	}
}

func TestNewPassword(t *testing.T) {
	g := NewWithT(t)
	a, err := NewPassword()
	g.Expect(err).NotTo(HaveOccurred())
	b, err := NewPassword()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(a).NotTo(Equal(b))
	raw, err := base64.RawURLEncoding.DecodeString(a)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(len(raw) * 8).To(BeNumerically(">=", 160))
}

// TestNoShortNameIsALongTeamsName: a team name of 57 characters maps to
// itself, and one made of a 58-character team's first characters and its
// hash used to map to that team's very name: whichever came second was locked
// out of its database. Cut names now start "buurt__", which no short name can
// (a team name starts with a letter or digit).
func TestNoShortNameIsALongTeamsName(t *testing.T) {
	g := NewWithT(t)
	long := strings.Repeat("a", 58)
	name := Name(long)
	// The shape a cut name had before: buurt_, 48 characters of the team,
	// '_', 8 hex digits of a hash.
	oldSum := sha256.Sum256([]byte("buurt_" + long))
	mimic := strings.Repeat("a", 48) + "-" + hex.EncodeToString(oldSum[:])[:8]
	g.Expect(mimic).To(HaveLen(57))
	g.Expect(Name(mimic)).NotTo(Equal(name), "team %s takes the name of team %s", mimic, long)
	g.Expect(name).To(HavePrefix("buurt__"))
	g.Expect(name).To(HaveLen(63))
}

package database

import (
	"encoding/base64"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

func TestName(t *testing.T) {
	long := strings.Repeat("a", 58)
	cases := []struct {
		team, want string
	}{
		{"north-riverside", "buurt_north_riverside"},
		{"a", "buurt_a"},
		// 6 + 57 = 63 bytes: fits exactly.
		{strings.Repeat("b", 57), "buurt_" + strings.Repeat("b", 57)},
		// 6 + 58 = 64 bytes: cut, and a hash of the whole name appended.
		{long, ""},
	}
	for _, tc := range cases {
		t.Run(tc.team, func(t *testing.T) {
			g := NewWithT(t)
			got := Name(tc.team)
			if tc.team == long {
				g.Expect(got).To(HaveLen(63))
				g.Expect(got).To(HavePrefix("buurt_" + strings.Repeat("a", 48) + "_"))
				g.Expect(got).To(MatchRegexp(`_[0-9a-f]{8}$`))
				return
			}
			g.Expect(got).To(Equal(tc.want))
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

package database

import (
	"regexp"
	"strings"
	"testing"
)

var (
	teamName   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

// FuzzName: any two different valid team names map to different valid
// PostgreSQL identifiers of at most 63 bytes.
func FuzzName(f *testing.F) {
	for _, seed := range [][2]string{
		{"north-riverside", "north-riverside2"},
		{"a", "b"},
		{"a-b", "ab"},
		{"0", "00"},
		{"x123456789x123456789x123456789x123456789x123456789x12345a", "x123456789x123456789x123456789x123456789x123456789x12345b"},
		// A 57-character name that spelled out what the 58-character one was
		// given before (TestNoShortNameIsALongTeamsName).
		{strings.Repeat("a", 58), strings.Repeat("a", 48) + "-9a9c24cd"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if !valid(a) {
			return
		}
		na := Name(a)
		if len(na) > 63 || !identifier.MatchString(na) {
			t.Fatalf("team %q gives invalid identifier %q", a, na)
		}
		if valid(b) && a != b && na == Name(b) {
			t.Fatalf("teams %q and %q share identifier %q", a, b, na)
		}
	})
}

func valid(team string) bool {
	return len(team) <= 58 && teamName.MatchString(team)
}

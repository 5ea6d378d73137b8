package blueprint

import (
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

func TestRecentAsksAgainOnlyWhenTheAnswerIsOldOrFailed(t *testing.T) {
	g := NewWithT(t)
	var c recent[string, int]
	asked := 0
	fetch := func() (int, error) { asked++; return asked, nil }

	g.Expect(c.get("a", time.Hour, fetch)).To(Equal(1))
	g.Expect(c.get("a", time.Hour, fetch)).To(Equal(1), "kept")
	g.Expect(c.get("b", time.Hour, fetch)).To(Equal(2), "another key")
	g.Expect(c.get("a", 0, fetch)).To(Equal(3), "too old")

	_, err := c.get("a", 0, func() (int, error) { return 0, errors.New("no answer") })
	g.Expect(err).To(MatchError("no answer"))
	g.Expect(c.get("a", time.Hour, fetch)).To(Equal(3), "a failed look keeps the last answer")
}

package message

import (
	"fmt"
	"testing"

	. "github.com/onsi/gomega"
)

func TestList(t *testing.T) {
	names := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("t%d", i))
		}
		return out
	}
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{names(1), "t0"},
		{names(10), "t0, t1, t2, t3, t4, t5, t6, t7, t8, t9"},
		{names(12), "t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 and 2 more"},
	} {
		NewWithT(t).Expect(List(tc.names)).To(Equal(tc.want))
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 members", 1: "1 member", 12: "12 members"} {
		if got := Count(n, "member"); got != want {
			t.Errorf("Count(%d) = %q, want %q", n, got, want)
		}
	}
}

package coach_test

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/controllers/coach"
)

func teamAt(name string, second int) teamsv1alpha1.NeighbourhoodTeam {
	t := teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{
		Name: name, CreationTimestamp: metav1.NewTime(time.Date(2026, 11, 23, 9, 0, second, 0, time.UTC)),
	}}
	return t
}

func namesOf(teams []*teamsv1alpha1.NeighbourhoodTeam) []string {
	out := []string{}
	for _, t := range teams {
		out = append(out, t.Name)
	}
	return out
}

func TestAccept(t *testing.T) {
	deleting := teamAt("deleting", 0)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	deleting.Finalizers = []string{"x"}
	archived := teamAt("archived", 0)
	archived.Spec.Lifecycle = teamsv1alpha1.LifecycleArchived
	cases := []struct {
		name              string
		teams             []teamsv1alpha1.NeighbourhoodTeam
		maxTeams          int
		current           []string
		accepted, waiting []string
	}{
		{"nobody chose the coach", nil, 2, nil, []string{}, []string{}},
		{"oldest first, then by name", []teamsv1alpha1.NeighbourhoodTeam{teamAt("b", 5), teamAt("c", 1), teamAt("a", 5)}, 2, nil,
			[]string{"c", "a"}, []string{"b"}},
		{"supported teams keep their place against older newcomers",
			[]teamsv1alpha1.NeighbourhoodTeam{teamAt("old", 1), teamAt("supported", 9)}, 1, []string{"supported"},
			[]string{"supported"}, []string{"old"}},
		{"a free place goes to the oldest waiting team",
			[]teamsv1alpha1.NeighbourhoodTeam{teamAt("x", 3), teamAt("y", 2), teamAt("supported", 9)}, 2, []string{"supported"},
			[]string{"y", "supported"}, []string{"x"}},
		{"fewer places: the newest supported teams lose theirs",
			[]teamsv1alpha1.NeighbourhoodTeam{teamAt("s1", 1), teamAt("s2", 2), teamAt("s3", 3), teamAt("w", 0)}, 1, []string{"s1", "s2", "s3"},
			[]string{"s1"}, []string{"w", "s2", "s3"}},
		{"a team being deleted is neither", []teamsv1alpha1.NeighbourhoodTeam{deleting, teamAt("a", 1)}, 1, []string{"deleting"},
			[]string{"a"}, []string{}},
		{"an archived team is released and does not wait", []teamsv1alpha1.NeighbourhoodTeam{archived, teamAt("a", 1)}, 1,
			[]string{"archived"}, []string{"a"}, []string{}},
		{"a team that left is no longer supported", []teamsv1alpha1.NeighbourhoodTeam{teamAt("a", 1)}, 1, []string{"left", "a"},
			[]string{"a"}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			accepted, waiting := coach.Accept(tc.teams, tc.maxTeams, tc.current)
			g.Expect(namesOf(accepted)).To(Equal(tc.accepted))
			g.Expect(namesOf(waiting)).To(Equal(tc.waiting))
		})
	}
}

// BenchmarkAccept orders a coach's teams at the largest maxTeams the API
// allows, with as many waiting.
func BenchmarkAccept(b *testing.B) {
	teams := make([]teamsv1alpha1.NeighbourhoodTeam, 1000)
	current := make([]string, 0, 500)
	for i := range teams {
		teams[i] = teamAt(fmt.Sprintf("team-%04d", i), i%60)
		if i%2 == 0 {
			current = append(current, teams[i].Name)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		coach.Accept(teams, 500, current)
	}
}

package team

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

func TestWhatWasFoundInPlaceHoldsWhileNothingItDependsOnChanged(t *testing.T) {
	now := time.Unix(1000, 0)
	team := &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "a", UID: "uid-1"}}
	records := newSharedRecords()
	records.nowFunc = func() time.Time { return now }
	records.remember(team, sharedInPlace{server: "abc/answers", secretUID: "s-1", secretVersion: "7", name: "buurt_a"})

	for _, tc := range []struct {
		name                 string
		team                 *teamsv1alpha1.NeighbourhoodTeam
		server, uid, version string
		after                time.Duration
		holds                bool
	}{
		{"nothing changed", team, "abc/answers", "s-1", "7", sharedVerifyInterval - time.Second, true},
		{"looked at too long ago", team, "abc/answers", "s-1", "7", sharedVerifyInterval, false},
		{"the Secret changed", team, "abc/answers", "s-1", "8", 0, false},
		{"the Secret was made again", team, "abc/answers", "s-2", "7", 0, false},
		{"the server or its admin Secret changed", team, "def/answers", "s-1", "7", 0, false},
		{"the server is not known to answer", team, "", "s-1", "7", 0, false},
		{"a team of the same name made again", &teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: "a", UID: "uid-2"}},
			"abc/answers", "s-1", "7", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			records.nowFunc = func() time.Time { return now.Add(tc.after) }
			found, ok := records.inPlace(tc.team, tc.server, tc.uid, tc.version)
			NewWithT(t).Expect(ok).To(Equal(tc.holds))
			if tc.holds {
				NewWithT(t).Expect(found.name).To(Equal("buurt_a"))
			}
		})
	}
	records.forget("a")
	records.nowFunc = func() time.Time { return now }
	_, ok := records.inPlace(team, "abc/answers", "s-1", "7")
	NewWithT(t).Expect(ok).To(BeFalse())
}

package plugin_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	myv1alpha1 "github.com/buurt-dev/buurt/api/my/v1alpha1"
	"github.com/buurt-dev/buurt/internal/plugin"
)

var update = flag.Bool("update", false, "write the golden files from what the commands print")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		NewWithT(t).Expect(os.WriteFile(path, got, 0o600)).To(Succeed())
	}
	want, err := os.ReadFile(path) //nolint:gosec // a golden file of this package
	NewWithT(t).Expect(err).NotTo(HaveOccurred(), "run go test ./internal/plugin -update to write it")
	NewWithT(t).Expect(string(got)).To(Equal(string(want)))
}

var now = time.Date(2026, 11, 24, 18, 30, 0, 0, time.UTC)

func teams() *myv1alpha1.TeamList {
	wake := metav1.NewTime(time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC))
	sleep := metav1.NewTime(time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC))
	return &myv1alpha1.TeamList{Items: []myv1alpha1.Team{
		{ObjectMeta: metav1.ObjectMeta{Name: "north-hillside"}, Status: myv1alpha1.TeamStatus{
			Role: myv1alpha1.RoleCoach, Coaches: []string{"jan"}, Phase: "Dormant", Ready: metav1.ConditionTrue, Namespace: "team-north-hillside",
			Coach: "jan", MemberCount: 9, Lifecycle: "Active", Sleep: "Asleep", NextSleepTransition: &wake,
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "north-riverside"}, Status: myv1alpha1.TeamStatus{
			Role: myv1alpha1.RoleMember, Phase: "Degraded", Ready: metav1.ConditionFalse, Reason: "AppsUnavailable",
			Namespace: "team-north-riverside", MemberCount: 12, Lifecycle: "Active", Sleep: "Awake", NextSleepTransition: &sleep,
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "south-harbour"}, Status: myv1alpha1.TeamStatus{
			Role: myv1alpha1.RolePlatformEngineer, Phase: "Forming", Ready: metav1.ConditionUnknown, MemberCount: 1,
		}},
	}}
}

func TestMine(t *testing.T) {
	for _, tc := range []struct {
		file   string
		format plugin.Format
		style  plugin.Style
		list   *myv1alpha1.TeamList
	}{
		{"mine.txt", plugin.Text, plugin.Style{}, teams()},
		{"mine-colour.txt", plugin.Text, plugin.Style{Colour: true}, teams()},
		{"mine.json", plugin.JSON, plugin.Style{}, teams()},
		{"mine-none.txt", plugin.Text, plugin.Style{}, &myv1alpha1.TeamList{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var out bytes.Buffer
			NewWithT(t).Expect(plugin.Mine(&out, tc.list, tc.format, tc.style, now)).To(Succeed())
			golden(t, tc.file, out.Bytes())
		})
	}
}

func TestParseFormat(t *testing.T) {
	g := NewWithT(t)
	for in, want := range map[string]plugin.Format{"": plugin.Text, "wide": plugin.Text, "JSON": plugin.JSON, "yaml": plugin.YAML} {
		got, err := plugin.ParseFormat(in)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got).To(Equal(want))
	}
	_, err := plugin.ParseFormat("jsonpath")
	g.Expect(err).To(MatchError(`unknown output format "jsonpath": use json or yaml, or leave -o out for a table`))
}

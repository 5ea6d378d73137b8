package sleep

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

func amsterdam(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

var everyDay = []time.Weekday{
	time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday,
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestAWorkingWeek(t *testing.T) {
	// Sleep 20:00, wake 07:00, Monday to Friday, in Amsterdam (UTC+1 in
	// November). 2026-11-25 is a Wednesday.
	s := Schedule{Sleep: "20:00", Wake: "07:00", Days: weekdays, Location: amsterdam(t)}
	for _, tc := range []struct {
		name, now string
		want      State
	}{
		{"Wednesday noon: awake since the morning", "2026-11-25T11:00:00Z",
			State{Asleep: false, Since: utc("2026-11-25T06:00:00Z"), Next: utc("2026-11-25T19:00:00Z")}},
		{"Wednesday night: asleep across midnight", "2026-11-25T22:00:00Z",
			State{Asleep: true, Since: utc("2026-11-25T19:00:00Z"), Next: utc("2026-11-26T06:00:00Z")}},
		{"Thursday 00:30: still asleep", "2026-11-25T23:30:00Z",
			State{Asleep: true, Since: utc("2026-11-25T19:00:00Z"), Next: utc("2026-11-26T06:00:00Z")}},
		{"Saturday: asleep from Friday evening to Monday morning", "2026-11-28T11:00:00Z",
			State{Asleep: true, Since: utc("2026-11-27T19:00:00Z"), Next: utc("2026-11-30T06:00:00Z")}},
		{"at the very moment it wakes", "2026-11-30T06:00:00Z",
			State{Asleep: false, Since: utc("2026-11-30T06:00:00Z"), Next: utc("2026-11-30T19:00:00Z")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.At(utc(tc.now))
			g := NewWithT(t)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(got.Asleep).To(Equal(tc.want.Asleep))
			g.Expect(got.Since).To(BeTemporally("==", tc.want.Since))
			g.Expect(got.Next).To(BeTemporally("==", tc.want.Next))
		})
	}
}

func TestANightTeamSleepsByDay(t *testing.T) {
	// A night team: sleeps 09:00, wakes 21:00, every day.
	s := Schedule{Sleep: "09:00", Wake: "21:00", Days: everyDay, Location: amsterdam(t)}
	got, err := s.At(utc("2026-11-25T12:00:00Z"))
	g := NewWithT(t)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Asleep).To(BeTrue())
	g.Expect(got.Next).To(BeTemporally("==", utc("2026-11-25T20:00:00Z")))
}

// Summer time starts in Amsterdam on Sunday 2026-03-29: at 02:00 the clock
// goes to 03:00, and UTC+1 becomes UTC+2.
func TestSummerTimeStarts(t *testing.T) {
	g := NewWithT(t)
	s := Schedule{Sleep: "20:00", Wake: "07:00", Days: everyDay, Location: amsterdam(t)}
	// Saturday evening, asleep; it wakes at 07:00 by the clock, which on
	// Sunday is 05:00 UTC (06:00 UTC on Saturday).
	got, err := s.At(utc("2026-03-28T22:00:00Z"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Asleep).To(BeTrue())
	g.Expect(got.Since).To(BeTemporally("==", utc("2026-03-28T19:00:00Z")))
	g.Expect(got.Next).To(BeTemporally("==", utc("2026-03-29T05:00:00Z")))
	// And sleeps at 20:00 by the clock: 18:00 UTC.
	got, err = s.At(utc("2026-03-29T12:00:00Z"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Next).To(BeTemporally("==", utc("2026-03-29T18:00:00Z")))

	// 02:30 is skipped that night: a schedule that sleeps then sleeps when
	// the clock would have shown it, at 03:30 by the clock (01:30 UTC).
	skipped := Schedule{Sleep: "02:30", Wake: "06:00", Days: everyDay, Location: amsterdam(t)}
	got, err = skipped.At(utc("2026-03-29T00:00:00Z"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Asleep).To(BeFalse())
	g.Expect(got.Next).To(BeTemporally("==", utc("2026-03-29T01:30:00Z")))
	// 03:30 that night is a time the clock shows once: 01:30 UTC.
	after := Schedule{Sleep: "03:30", Wake: "06:00", Days: everyDay, Location: amsterdam(t)}
	got, err = after.At(utc("2026-03-29T00:00:00Z"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Next).To(BeTemporally("==", utc("2026-03-29T01:30:00Z")))
}

// Summer time ends in Amsterdam on Sunday 2026-10-25: at 03:00 the clock
// goes back to 02:00, and UTC+2 becomes UTC+1.
func TestSummerTimeEnds(t *testing.T) {
	g := NewWithT(t)
	s := Schedule{Sleep: "20:00", Wake: "07:00", Days: everyDay, Location: amsterdam(t)}
	got, err := s.At(utc("2026-10-24T20:00:00Z"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Asleep).To(BeTrue())
	g.Expect(got.Since).To(BeTemporally("==", utc("2026-10-24T18:00:00Z")))
	g.Expect(got.Next).To(BeTemporally("==", utc("2026-10-25T06:00:00Z")))

	// 02:30 comes twice that night: a schedule that sleeps then sleeps the
	// first time (00:30 UTC), once.
	twice := Schedule{Sleep: "02:30", Wake: "06:00", Days: everyDay, Location: amsterdam(t)}
	got, err = twice.At(utc("2026-10-24T23:00:00Z"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Asleep).To(BeFalse())
	g.Expect(got.Next).To(BeTemporally("==", utc("2026-10-25T00:30:00Z")))
	got, err = twice.At(utc("2026-10-25T01:00:00Z"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(got.Asleep).To(BeTrue())
	g.Expect(got.Since).To(BeTemporally("==", utc("2026-10-25T00:30:00Z")))
	g.Expect(got.Next).To(BeTemporally("==", utc("2026-10-25T05:00:00Z")))
}

func TestBadSchedules(t *testing.T) {
	now := utc("2026-11-25T12:00:00Z")
	for _, tc := range []struct {
		name string
		s    Schedule
		want string
	}{
		{"no day", Schedule{Sleep: "20:00", Wake: "07:00"}, "a schedule needs at least one day"},
		{"sleep and wake at once", Schedule{Sleep: "20:00", Wake: "20:00", Days: weekdays},
			"a schedule cannot sleep and wake at the same time (20:00)"},
		{"no leading zero", Schedule{Sleep: "7:00", Wake: "20:00", Days: weekdays},
			`"7:00" is not a time of day as HH:MM (24-hour), such as 07:00 or 20:30`},
		{"after midnight", Schedule{Sleep: "24:00", Wake: "07:00", Days: weekdays},
			`"24:00" is not a time of day as HH:MM (24-hour), such as 07:00 or 20:30`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.s.At(now)
			NewWithT(t).Expect(err).To(MatchError(tc.want))
		})
	}
}

// TestTheDocumentedSchedule reads the schedule docs/lifecycle.md gives and checks
// it does what the doc says.
func TestTheDocumentedSchedule(t *testing.T) {
	g := NewWithT(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "lifecycle.md"))
	g.Expect(err).NotTo(HaveOccurred())
	block := regexp.MustCompile("(?s)```yaml\\n(spec:\\n  sleep:.*?)```").FindSubmatch(data)
	g.Expect(block).NotTo(BeNil(), "docs/lifecycle.md has no yaml block with spec.sleep")
	var doc struct {
		Spec struct {
			Sleep teamsv1alpha1.SleepSchedule `json:"sleep"`
		} `json:"spec"`
	}
	g.Expect(yaml.UnmarshalStrict(block[1], &doc)).To(Succeed())
	s, err := FromSpec(&doc.Spec.Sleep)
	g.Expect(err).NotTo(HaveOccurred())
	for now, asleep := range map[string]bool{
		"2026-11-25T11:00:00Z": false, // Wednesday noon in Amsterdam
		"2026-11-25T19:30:00Z": true,  // Wednesday 20:30
		"2026-11-28T11:00:00Z": true,  // Saturday noon
		"2026-11-30T06:30:00Z": false, // Monday 07:30
	} {
		got, err := s.At(utc(now))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(got.Asleep).To(Equal(asleep), now)
	}
}

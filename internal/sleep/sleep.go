// Package sleep is the arithmetic of a team's own hours: when, under its
// schedule, the team sleeps (Dormant) and when it wakes.
//
// A schedule names a time to sleep, a time to wake, the days of the week
// both happen on, and a time zone, as kube-green's SleepInfo does: "sleep
// 20:00, wake 07:00, Monday to Friday" sleeps every weekday evening, wakes
// every weekday morning, and so sleeps from Friday evening to Monday
// morning. The team is asleep when the last of these moments before now was
// a sleep. Times are on the wall clock of the time zone: 07:00 is 07:00 in
// summer and in winter. A time the clock skips (02:30 on the night summer
// time starts, in most of Europe) happens when the clock shows it would
// have, an hour later by the clock; a time the clock shows twice (02:30 on
// the night summer time ends) happens the first time.
package sleep

import (
	"fmt"
	"slices"
	"time"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// Schedule is a team's hours, as spec.sleep writes them.
type Schedule struct {
	// Sleep and Wake are times of day, "HH:MM".
	Sleep, Wake string
	// Days are the days of the week both happen on.
	Days []time.Weekday
	// Location is the time zone of Sleep and Wake.
	Location *time.Location
}

// State is whether the team sleeps now, and when that changes next.
type State struct {
	Asleep bool
	// Since is when the schedule last changed it; zero when the schedule
	// has not yet done anything (no moment of it in the past week).
	Since time.Time
	// Next is when the schedule changes it next.
	Next time.Time
}

// ParseClock reads "HH:MM" into hours and minutes.
func ParseClock(s string) (hour, minute int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != len("15:04") {
		return 0, 0, fmt.Errorf("%q is not a time of day as HH:MM (24-hour), such as 07:00 or 20:30", s)
	}
	return t.Hour(), t.Minute(), nil
}

// At is the team's state under the schedule at now.
func (s Schedule) At(now time.Time) (State, error) {
	if len(s.Days) == 0 {
		return State{}, fmt.Errorf("a schedule needs at least one day")
	}
	if s.Sleep == s.Wake {
		return State{}, fmt.Errorf("a schedule cannot sleep and wake at the same time (%s)", s.Sleep)
	}
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	sleepH, sleepM, err := ParseClock(s.Sleep)
	if err != nil {
		return State{}, err
	}
	wakeH, wakeM, err := ParseClock(s.Wake)
	if err != nil {
		return State{}, err
	}
	// The moments of the schedule from a week before now to a week after:
	// every day of the week is in each, so the last before now and the
	// first after are among them.
	type moment struct {
		at    time.Time
		sleep bool
	}
	var moments []moment
	local := now.In(loc)
	for offset := -8; offset <= 8; offset++ {
		day := time.Date(local.Year(), local.Month(), local.Day()+offset, 12, 0, 0, 0, loc)
		if !slices.Contains(s.Days, day.Weekday()) {
			continue
		}
		moments = append(moments,
			moment{wallClock(day, sleepH, sleepM, loc), true},
			moment{wallClock(day, wakeH, wakeM, loc), false})
	}
	slices.SortFunc(moments, func(a, b moment) int { return a.at.Compare(b.at) })
	state := State{}
	for _, m := range moments {
		if m.at.After(now) {
			if m.sleep != state.Asleep {
				state.Next = m.at
				return state, nil
			}
			continue
		}
		if m.sleep != state.Asleep || state.Since.IsZero() {
			state.Asleep, state.Since = m.sleep, m.at
		}
	}
	return state, fmt.Errorf("the schedule never changes after %s", now)
}

// wallClock is the moment the clock in loc shows hour:minute on day's date.
// A time the clock skips is taken as the moment the clock would have shown
// it had it not skipped (an hour later by the clock); of a time it shows
// twice, the first. (Go's time.Date leaves open which it takes.)
func wallClock(day time.Time, hour, minute int, loc *time.Location) time.Time {
	wall := time.Date(day.Year(), day.Month(), day.Day(), hour, minute, 0, 0, time.UTC)
	near := time.Date(day.Year(), day.Month(), day.Day(), hour, minute, 0, 0, loc)
	_, before := near.Add(-3 * time.Hour).Zone()
	_, after := near.Add(3 * time.Hour).Zone()
	var shown []time.Time
	for _, offset := range []int{before, after} {
		at := wall.Add(-time.Duration(offset) * time.Second).In(loc)
		if at.Hour() == hour && at.Minute() == minute {
			shown = append(shown, at)
		}
	}
	if len(shown) == 0 {
		// Skipped: read with the offset before the clock jumped.
		return wall.Add(-time.Duration(before) * time.Second).In(loc)
	}
	return slices.MinFunc(shown, func(a, b time.Time) int { return a.Compare(b) })
}

// FromSpec is the schedule a team's spec.sleep writes; an error names the
// field that is wrong.
func FromSpec(spec *teamsv1alpha1.SleepSchedule) (Schedule, error) {
	loc, err := time.LoadLocation(spec.TimeZone)
	if err != nil || spec.TimeZone == "" || spec.TimeZone == "Local" {
		return Schedule{}, &FieldError{Field: "timeZone", Value: spec.TimeZone,
			Detail: "not a time zone buurt knows; use an IANA name such as Europe/Amsterdam or UTC"}
	}
	s := Schedule{Sleep: spec.SleepAt, Wake: spec.WakeAt, Location: loc}
	for _, d := range spec.Days {
		day, ok := dayNames[d]
		if !ok {
			return Schedule{}, &FieldError{Field: "days", Value: string(d), Detail: "not a day of the week, such as Monday"}
		}
		s.Days = append(s.Days, day)
	}
	return s, nil
}

var dayNames = map[teamsv1alpha1.Weekday]time.Weekday{
	"Sunday": time.Sunday, "Monday": time.Monday, "Tuesday": time.Tuesday, "Wednesday": time.Wednesday,
	"Thursday": time.Thursday, "Friday": time.Friday, "Saturday": time.Saturday,
}

// FieldError is a field of spec.sleep that is wrong.
type FieldError struct {
	Field, Value, Detail string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("spec.sleep.%s %q: %s", e.Field, e.Value, e.Detail)
}

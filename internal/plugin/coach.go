package plugin

import (
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/message"
)

// Coaching is what kubectl buurt coach shows of a coach: the Coach and the
// teams it supports, each read as the requester may.
type Coaching struct {
	Coach *teamsv1alpha1.Coach `json:"coach"`
	// Teams are the coach's teams (status.teams) that could be read.
	Teams []teamsv1alpha1.NeighbourhoodTeam `json:"teams,omitempty"`
	// Unread are the coach's teams that could not be read, with why.
	Unread map[string]string `json:"unread,omitempty"`
}

// Unreadable records a team of the coach's that could not be read, and why.
func (c *Coaching) Unreadable(team, why string) {
	if c.Unread == nil {
		c.Unread = map[string]string{}
	}
	c.Unread[team] = why
}

// Coach prints a coach's teams and their health, the teams waiting for the
// coach, and its capacity, as a tree (kubectl buurt coach), at now.
func Coach(w io.Writer, coachings []Coaching, format Format, style Style, now time.Time) error {
	switch format {
	case JSON, YAML:
		return printObject(w, coachings, format)
	}
	if len(coachings) == 0 {
		_, err := fmt.Fprintln(w, "You coach no team. A team chooses its coach (spec.coach); "+
			"name a Coach to see it: kubectl buurt coach NAME.")
		return err
	}
	for i, c := range coachings {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := printTree(w, coachTree(c, style, now)); err != nil {
			return err
		}
	}
	return nil
}

func coachTree(c Coaching, style Style, now time.Time) node {
	co := c.Coach
	capacity := fmt.Sprintf("%d of %d teams", co.Status.TeamCount, co.Spec.MaxTeams)
	if co.Spec.MaxTeams == 0 {
		capacity = fmt.Sprintf("%d teams, no limit", co.Status.TeamCount)
	}
	root := node{text: fmt.Sprintf("Coach %s\t%s %s\t%s", co.Name, co.Spec.Subject.Kind, co.Spec.Subject.Name, capacity)}
	conditions := node{text: fmt.Sprintf("Conditions (%d)", len(co.Status.Conditions))}
	for _, cond := range co.Status.Conditions {
		conditions.add(fmt.Sprintf("%s\t%s\t%s\t%s\t%s", cond.Type, style.status(string(cond.Status)), cond.Reason,
			since(cond.LastTransitionTime, now), cond.Message))
	}
	teams := node{text: fmt.Sprintf("Teams (%d)", len(co.Status.Teams))}
	read := map[string]teamsv1alpha1.NeighbourhoodTeam{}
	for _, t := range c.Teams {
		read[t.Name] = t
	}
	for _, name := range co.Status.Teams {
		t, ok := read[name]
		if !ok {
			teams.add(fmt.Sprintf("%s\t%s", name, dash(c.Unread[name])))
			continue
		}
		ready, reason := "Unknown", "-"
		if r := meta.FindStatusCondition(t.Status.Conditions, teamsv1alpha1.ReadyCondition); r != nil {
			ready, reason = string(r.Status), r.Reason
		}
		sleeping := "-"
		if s := t.Status.Sleep; s != nil {
			sleeping = sleepText(string(s.State), s.NextTransitionTime, now)
		}
		teams.add(fmt.Sprintf("%s\t%s\tReady %s\t%s\t%s\t%s", t.Name, dash(string(t.Status.Phase)),
			style.status(ready), reason, message.Count(int(t.Status.MemberCount), "member"), sleeping))
	}
	waiting := node{text: fmt.Sprintf("Waiting (%d): teams that chose this coach, beyond its capacity, oldest first", len(co.Status.WaitingTeams))}
	for _, name := range co.Status.WaitingTeams {
		waiting.add(name)
	}
	root.children = append(root.children, conditions, teams, waiting)
	return root
}

package plugin

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// Description is what kubectl buurt describe shows of a team: the team,
// and its namespace's quota with what is used of it, when the requester
// may read it.
type Description struct {
	Team *teamsv1alpha1.NeighbourhoodTeam `json:"team"`
	// Quota is buurt's ResourceQuota in the team's namespace; nil when
	// there is none or it could not be read (QuotaProblem says why).
	Quota *corev1.ResourceQuota `json:"quota,omitempty"`
	// QuotaProblem says why the quota is not shown.
	QuotaProblem string `json:"quotaProblem,omitempty"`
}

// Describe prints a team as a tree (kubectl buurt describe TEAM), at now.
func Describe(w io.Writer, d Description, format Format, style Style, now time.Time) error {
	switch format {
	case JSON, YAML:
		return printObject(w, d, format)
	}
	t := d.Team
	root := node{text: fmt.Sprintf("NeighbourhoodTeam %s\t%s", t.Name, dash(string(t.Status.Phase)))}
	if ready := meta.FindStatusCondition(t.Status.Conditions, teamsv1alpha1.ReadyCondition); ready != nil {
		root.text += fmt.Sprintf("\tReady %s\t%s", style.status(string(ready.Status)), ready.Reason)
	}
	root.add("Namespace\t" + dash(t.Status.Namespace))
	root.add("Neighbourhood\t" + dash(t.Spec.Neighbourhood))
	root.add("Blueprint\t" + dash(t.Spec.Blueprint))
	root.add("Lifecycle\t" + lifecycle(t, now))
	root.add("Coach\t" + coachOf(t))
	root.add("Database\t" + database(t, now))

	conditions := node{text: fmt.Sprintf("Conditions (%d)", len(t.Status.Conditions))}
	for _, c := range t.Status.Conditions {
		conditions.add(fmt.Sprintf("%s\t%s\t%s\t%s\t%s", c.Type, style.status(string(c.Status)), c.Reason,
			since(c.LastTransitionTime, now), c.Message))
	}
	members := node{text: fmt.Sprintf("Members (%d)", len(t.Spec.Members))}
	for _, m := range t.Status.Members {
		members.add(fmt.Sprintf("%s %s\t%s", m.Kind, m.Name, access(style, m.Access)))
	}
	apps := node{text: fmt.Sprintf("Apps (%d)", len(t.Status.Apps))}
	for _, a := range t.Status.Apps {
		apps.add(strings.TrimRight(fmt.Sprintf("%s\t%d/%d available\t%s", a.Name, a.AvailableReplicas, a.DesiredReplicas, a.URL), "\t"))
	}
	root.children = append(root.children, conditions, members, quota(d), apps)
	return printTree(w, root)
}

// lifecycle says whether the team is Active, Dormant or Archived, and what
// its own hours do next.
func lifecycle(t *teamsv1alpha1.NeighbourhoodTeam, now time.Time) string {
	out := string(t.Spec.Lifecycle)
	if out == "" {
		out = string(teamsv1alpha1.LifecycleActive)
	}
	if s := t.Status.Sleep; s != nil {
		out += "; " + sleepText(string(s.State), s.NextTransitionTime, now)
	}
	return out
}

// coachOf names the team's coach and whether the coach took the team on.
func coachOf(t *teamsv1alpha1.NeighbourhoodTeam) string {
	if t.Spec.Coach == "" {
		return "none chosen"
	}
	c := meta.FindStatusCondition(t.Status.Conditions, teamsv1alpha1.CoachAssignedCondition)
	if c == nil {
		return t.Spec.Coach
	}
	return fmt.Sprintf("%s (%s)", t.Spec.Coach, c.Reason)
}

// access colours a member's access: Granted green, anything else yellow.
func access(style Style, a teamsv1alpha1.MemberAccess) string {
	if a == teamsv1alpha1.MemberAccessGranted {
		return style.paint("32", string(a))
	}
	return style.paint("33", dash(string(a)))
}

// quota is the quota's branch: each resource's use against its limit.
func quota(d Description) node {
	q := d.Quota
	if q == nil {
		return node{text: "Quota\t" + dash(d.QuotaProblem)}
	}
	out := node{text: "Quota " + q.Name}
	names := make([]string, 0, len(q.Status.Hard))
	for name := range q.Status.Hard {
		names = append(names, string(name))
	}
	slices.Sort(names)
	for _, name := range names {
		hard, used := q.Status.Hard[corev1.ResourceName(name)], q.Status.Used[corev1.ResourceName(name)]
		share := "-"
		if h := hard.MilliValue(); h > 0 {
			share = fmt.Sprintf("%d%%", used.MilliValue()*100/h)
		}
		out.add(fmt.Sprintf("%s\t%s / %s\t%s", name, used.String(), hard.String(), share))
	}
	return out
}

// database says which database the team has, and how old its password is.
func database(t *teamsv1alpha1.NeighbourhoodTeam, now time.Time) string {
	db := t.Status.Database
	if db == nil || db.Class == "" || db.Class == teamsv1alpha1.DatabaseClassNone {
		return "none"
	}
	out := string(db.Class)
	if db.Name != "" {
		out += ", database " + db.Name
	}
	if db.SecretName != "" {
		out += ", credentials in Secret " + db.SecretName
	}
	if c := t.Status.Credentials; c != nil {
		if c.LastRotationTime != nil {
			out += fmt.Sprintf("; password from %s ago (%s)", duration.HumanDuration(now.Sub(c.LastRotationTime.Time)), c.LastRotationReason)
		}
		if c.RotationPending != "" {
			out += fmt.Sprintf("; a new password is due (%s)", c.RotationPending)
		}
	}
	return out
}

// since is how long ago t was, or - when it is not set.
func since(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

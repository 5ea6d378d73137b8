package blueprint

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/conditions"
	"github.com/buurt-dev/buurt/internal/message"
)

// maxNoteLength is the most bytes the apiserver takes in an Event's note; it
// refuses a longer Event outright.
const maxNoteLength = 1024

// quotaRefusal is the apiserver's refusal of the team's quota or limits,
// when its QuotaReady condition says it refused them.
func quotaRefusal(team *teamsv1alpha1.NeighbourhoodTeam) (string, bool) {
	quota := meta.FindStatusCondition(team.Status.Conditions, teamsv1alpha1.QuotaReadyCondition)
	if quota != nil && quota.Status == metav1.ConditionFalse && quota.Reason == teamsv1alpha1.RejectedReason {
		return quota.Message, true
	}
	return "", false
}

// setStatus reports how many teams use the blueprint and whether they fit
// it. Ready is False when a team has more members than maxMembers, or when
// the apiserver refused the quota or limits made from the blueprint for a
// team (its QuotaReady condition is Rejected); the message says both when
// both hold, and the reason is Rejected then, since only the blueprint's
// author can fix that.
func setStatus(blueprint *teamsv1alpha1.TeamBlueprint, teams []teamsv1alpha1.NeighbourhoodTeam) {
	// The cache lists in no fixed order; the message must not change with it.
	teams = slices.SortedFunc(slices.Values(teams), func(a, b teamsv1alpha1.NeighbourhoodTeam) int {
		return strings.Compare(a.Name, b.Name)
	})
	var tooBig, rejected []string
	var refusal string
	for _, team := range teams {
		if !blueprint.AllowsMembers(len(team.Spec.Members)) {
			tooBig = append(tooBig, team.Name)
		}
		if message, ok := quotaRefusal(&team); ok {
			if len(rejected) == 0 {
				refusal = message
			}
			rejected = append(rejected, team.Name)
		}
	}

	parts := []string{"Used by " + count(len(teams))}
	reason := teamsv1alpha1.ReconciledReason
	if len(tooBig) > 0 {
		parts = append(parts, fmt.Sprintf("more members than maxMembers %d: %s", blueprint.Spec.MaxMembers, message.List(tooBig)))
		reason = teamsv1alpha1.TooManyMembersReason
	}
	if len(rejected) > 0 {
		parts = append(parts, refused(rejected, refusal))
		reason = teamsv1alpha1.RejectedReason
	}
	conditions.Set(&blueprint.Status.Conditions, blueprint.Generation, teamsv1alpha1.ReadyCondition,
		conditions.StatusOf(reason == teamsv1alpha1.ReconciledReason), reason, strings.Join(parts, "; "))
	blueprint.Status.TeamCount = int32(len(teams)) //nolint:gosec // a count of objects
	blueprint.Status.ObservedGeneration = blueprint.Generation
}

// refused says for which teams the apiserver refused the quota or limits,
// with its reason for the first of them.
func refused(teams []string, reason string) string {
	named := "team " + teams[0]
	if len(teams) > 1 {
		named = "teams " + message.List(teams)
	}
	return fmt.Sprintf("the apiserver refused the quota or limits made from this blueprint for %s: %s; fix spec.quota or spec.limits",
		named, reason)
}

// recordTransitions records a Warning Event when the blueprint's Ready
// condition becomes Rejected, and when its shared server is found to let
// every role into its maintenance databases: worth a notice once, not on
// every reconcile.
func (r *Reconciler) recordTransitions(before, after *teamsv1alpha1.TeamBlueprint) {
	for _, watched := range []struct{ conditionType, reason string }{
		{teamsv1alpha1.ReadyCondition, teamsv1alpha1.RejectedReason},
		{teamsv1alpha1.DatabaseServerHardenedCondition, teamsv1alpha1.PublicCanConnectReason},
	} {
		now := meta.FindStatusCondition(after.Status.Conditions, watched.conditionType)
		was := meta.FindStatusCondition(before.Status.Conditions, watched.conditionType)
		if now == nil || now.Reason != watched.reason || (was != nil && was.Reason == watched.reason) {
			continue
		}
		r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, watched.reason, "Reconcile", "%s", note(now.Message))
	}
}

// note is s, cut to what the apiserver takes as an Event's note.
func note(s string) string {
	if len(s) <= maxNoteLength {
		return s
	}
	const ellipsis = "…"
	cut := maxNoteLength - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

func count(teams int) string {
	if teams == 1 {
		return "1 team"
	}
	return fmt.Sprintf("%d teams", teams)
}

package team

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/message"
)

// memberAccess is what this pass did to the members' access.
type memberAccess int

const (
	// accessKept: the pass did not get as far as the members' binding, or
	// failed to apply it; what was in place stays.
	accessKept memberAccess = iota
	// accessGranted: every member of spec.members is bound.
	accessGranted
	// accessRevoked: the members' binding was taken away (the blueprint's
	// member role is not fit for members).
	accessRevoked
)

// memberStatuses says of each member of spec.members whether their access
// is in place after this pass: Granted when the pass bound them, or when it
// kept a binding that already held them; Pending otherwise.
func memberStatuses(team *teamsv1alpha1.NeighbourhoodTeam, access memberAccess) []teamsv1alpha1.MemberStatus {
	out := make([]teamsv1alpha1.MemberStatus, 0, len(team.Spec.Members))
	for _, m := range team.Spec.Members {
		state := teamsv1alpha1.MemberAccessPending
		if access == accessGranted || access == accessKept && granted(team.Status.Members, m) {
			state = teamsv1alpha1.MemberAccessGranted
		}
		out = append(out, teamsv1alpha1.MemberStatus{Subject: m, Access: state})
	}
	return out
}

// granted tells whether members says subject's access is in place.
func granted(members []teamsv1alpha1.MemberStatus, subject teamsv1alpha1.Subject) bool {
	return slices.ContainsFunc(members, func(m teamsv1alpha1.MemberStatus) bool {
		return m.Subject == subject && m.Access == teamsv1alpha1.MemberAccessGranted
	})
}

// removedMembers are the members whose access the status says is in place
// and who are no longer in spec.members: people who could read the team's
// Secrets and have left. A member who never had access is not among them.
func removedMembers(team *teamsv1alpha1.NeighbourhoodTeam) []teamsv1alpha1.Subject {
	var removed []teamsv1alpha1.Subject
	for _, m := range team.Status.Members {
		if m.Access == teamsv1alpha1.MemberAccessGranted && !slices.Contains(team.Spec.Members, m.Subject) {
			removed = append(removed, m.Subject)
		}
	}
	return removed
}

// recordMembers records an Event when members were given access and when
// members left, so that a new member, their coach and the team see it in
// the team's Events. A team's first members (no status.members before: a
// new team, or one made by an older buurt) are not announced: Ready says
// the workspace is there.
func (r *Reconciler) recordMembers(ctx context.Context, before, after *teamsv1alpha1.NeighbourhoodTeam, made *teamsv1alpha1.CredentialsStatus) {
	if len(before.Status.Members) == 0 {
		return
	}
	var added []string
	for _, m := range after.Status.Members {
		if m.Access == teamsv1alpha1.MemberAccessGranted && !granted(before.Status.Members, m.Subject) {
			added = append(added, describeSubject(m.Subject))
		}
	}
	if len(added) > 0 {
		r.Recorder.Eventf(ctx, after, nil, corev1.EventTypeNormal, teamsv1alpha1.MemberAddedReason, "Reconcile",
			"%s now %s access to namespace %s", message.List(added), hasOrHave(len(added)), after.NamespaceName())
	}
	var removed []string
	for _, subject := range removedMembers(before) {
		if !granted(after.Status.Members, subject) {
			removed = append(removed, describeSubject(subject))
		}
	}
	if len(removed) > 0 {
		r.Recorder.Eventf(ctx, after, nil, corev1.EventTypeNormal, teamsv1alpha1.MemberRemovedReason, "Reconcile",
			"%s left the team: no access to namespace %s any more%s", message.List(removed), after.NamespaceName(),
			rotationNote(made))
	}
}

// rotationNote says, after a member left, that the database password they
// could read was made anew this pass, when it was.
func rotationNote(made *teamsv1alpha1.CredentialsStatus) string {
	switch {
	case made == nil:
		return ""
	case made.RotationPending == teamsv1alpha1.RotationMemberRemoved:
		return "; the database password is to be made anew once buurt reaches the database, and the old one works until then"
	case made.LastRotationReason == teamsv1alpha1.RotationMemberRemoved:
		return ", and the database password is made anew"
	}
	return ""
}

func describeSubject(s teamsv1alpha1.Subject) string {
	return fmt.Sprintf("%s %s", strings.ToLower(string(s.Kind)), s.Name)
}

func hasOrHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}

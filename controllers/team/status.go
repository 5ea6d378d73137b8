package team

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/conditions"
)

// readinessConditions are the conditions the Ready roll-up covers, in the
// order Ready names them: all but CoachAssigned, since a team works without
// a coach and a coach who is full does not make a team's workspace any less
// ready.
var readinessConditions = []string{
	teamsv1alpha1.NamespaceReadyCondition,
	teamsv1alpha1.AccessReadyCondition,
	teamsv1alpha1.QuotaReadyCondition,
	teamsv1alpha1.DatabaseReadyCondition,
	teamsv1alpha1.NetworkReadyCondition,
	teamsv1alpha1.AppsReadyCondition,
	teamsv1alpha1.SizeWithinLimitCondition,
}

// insideNamespace are the conditions of the phases that make things inside
// the team's namespace, which run only once it is buurt's.
var insideNamespace = []string{
	teamsv1alpha1.AccessReadyCondition,
	teamsv1alpha1.QuotaReadyCondition,
	teamsv1alpha1.DatabaseReadyCondition,
	teamsv1alpha1.NetworkReadyCondition,
	teamsv1alpha1.AppsReadyCondition,
}

// phaseConditions are the conditions phases report, in the fixed order they
// are written, so that the status does not change with the order of a map.
var phaseConditions = slices.Concat([]string{teamsv1alpha1.NamespaceReadyCondition}, insideNamespace,
	[]string{teamsv1alpha1.CoachAssignedCondition})

// setStatus computes the team's status from what one pass found: every
// condition whose phase ran, Ready, the phase and, after a pass without
// errors, observedGeneration. It is pure: the scope in, the team's status
// out.
func setStatus(s *scope) {
	team := s.team
	set := func(conditionType string, status metav1.ConditionStatus, reason, message string) {
		conditions.Set(&team.Status.Conditions, s.generation, conditionType, status, reason, message)
	}
	if s.namespace != nil {
		team.Status.Namespace = *s.namespace
	}
	if s.database != nil {
		team.Status.Database = *s.database
	}
	if s.apps != nil {
		team.Status.Apps = *s.apps
	}
	if s.sleep != nil {
		team.Status.Sleep = *s.sleep
	}
	if s.quota != nil {
		class, _ := databaseClass(team, s.blueprint)
		team.Status.Usage = usageOf(team.Status.Usage, *s.quota, s.blueprint.Spec.Prices, class, s.databaseSize)
	}
	if pending := pendingRotation(s); pending != nil {
		s.credentials = pending
	}
	// A pass that read the team older than this operator's last rotation
	// takes no reason to rotate from it (rotationDue), so it must not
	// forget one either: a member who left just now stays in
	// status.members as read, for the next pass to see and rotate for.
	if !s.statusBehind {
		team.Status.Members = memberStatuses(team, s.memberAccess)
	}
	if s.credentials != nil {
		team.Status.Credentials = s.credentials
	}
	for _, t := range phaseConditions {
		if err, failed := s.failed[t]; failed {
			f := failure(err)
			set(t, f.status, f.reason, f.message)
		} else if f, ok := s.findings[t]; ok {
			set(t, f.status, f.reason, f.message)
		}
	}
	if ns, ok := s.findings[teamsv1alpha1.NamespaceReadyCondition]; ok && ns.status != metav1.ConditionTrue {
		for _, t := range insideNamespace {
			set(t, metav1.ConditionFalse, teamsv1alpha1.WaitingForNamespaceReason, "Made once the team's namespace is buurt's and ready")
		}
	}

	if s.reconcileRequest != nil && len(s.failed) == 0 {
		team.Status.LastHandledReconcileAt = *s.reconcileRequest
	}
	switch {
	case s.deleting:
		team.Status.Phase = teamsv1alpha1.TeamPhaseTerminating
		return
	case s.failed[teamsv1alpha1.ReadyCondition] != nil:
		f := failure(s.failed[teamsv1alpha1.ReadyCondition])
		set(teamsv1alpha1.ReadyCondition, f.status, f.reason, f.message)
		team.Status.Phase = phaseOf(s)
		return
	case s.blueprint == nil:
		set(teamsv1alpha1.ReadyCondition, metav1.ConditionFalse, teamsv1alpha1.BlueprintNotFoundReason,
			fmt.Sprintf("TeamBlueprint %q does not exist; the workspace is made when it is created", team.Spec.Blueprint))
		team.Status.Phase = phaseOf(s)
		return
	}
	setSize(s)
	setReady(s)
	team.Status.Phase = phaseOf(s)
	if len(s.failed) == 0 {
		team.Status.ObservedGeneration = s.generation
	}
}

// failure is what a condition says of its phase's error: what the phase
// said itself (a reportedError), else False when the apiserver refused the
// change (it will refuse it again until the input changes) and Unknown when
// buurt could not find out (what is in place is kept, and buurt tries
// again).
func failure(err error) finding {
	if reported := (*reportedError)(nil); errors.As(err, &reported) {
		return reported.finding
	}
	switch {
	case apierrors.IsForbidden(err):
		return finding{metav1.ConditionFalse, teamsv1alpha1.ForbiddenReason,
			apiMessage(err) + "; grant buurt's ServiceAccount that permission, or remove what stops it"}
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return finding{metav1.ConditionFalse, teamsv1alpha1.RejectedReason,
			"The apiserver refused it: " + apiMessage(err)}
	default:
		return finding{metav1.ConditionUnknown, teamsv1alpha1.ReconcileErrorReason,
			"buurt could not check or apply this and keeps what is in place; it tries again: " + err.Error()}
	}
}

// apiMessage is what the apiserver said, without buurt's own wrapping.
func apiMessage(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return status.Status().Message
	}
	return err.Error()
}

// reportedError is a phase's error that says itself what its condition
// reports, for the failures a phase can explain better than failure can.
type reportedError struct {
	finding
	err error
}

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

// setSize compares the team's size with its blueprint's limit.
func setSize(s *scope) {
	team, blueprint := s.team, s.blueprint
	members := len(team.Spec.Members)
	team.Status.MemberCount = int32(members) //nolint:gosec // at most 50 members, bounded by the CRD
	if !blueprint.AllowsMembers(members) {
		conditions.Set(&team.Status.Conditions, s.generation, teamsv1alpha1.SizeWithinLimitCondition, metav1.ConditionFalse,
			teamsv1alpha1.TooManyMembersReason,
			fmt.Sprintf("The team has %d members and its blueprint allows %d; buurt teams grow by splitting into a second team",
				members, blueprint.Spec.MaxMembers))
		return
	}
	conditions.Set(&team.Status.Conditions, s.generation, teamsv1alpha1.SizeWithinLimitCondition, metav1.ConditionTrue,
		teamsv1alpha1.WithinLimitReason, fmt.Sprintf("%d of at most %d members", members, blueprint.Spec.MaxMembers))
}

// setReady rolls the readiness conditions up into Ready: True when all are,
// else False when any is False (Unknown when none is False), with the reason
// and message of the first such condition, and the others named after it.
func setReady(s *scope) {
	team := s.team
	var worst *metav1.Condition
	var others []string
	for _, t := range readinessConditions {
		c := meta.FindStatusCondition(team.Status.Conditions, t)
		if c == nil {
			c = &metav1.Condition{Type: t, Status: metav1.ConditionUnknown, Reason: teamsv1alpha1.ProvisioningReason,
				Message: "Not looked at yet"}
		}
		switch {
		case c.Status == metav1.ConditionTrue:
		case worst == nil:
			worst = c
		case worst.Status != metav1.ConditionFalse && c.Status == metav1.ConditionFalse:
			others = append(others, worst.Type)
			worst = c
		default:
			others = append(others, t)
		}
	}
	if worst == nil && s.archived {
		conditions.Set(&team.Status.Conditions, s.generation, teamsv1alpha1.ReadyCondition, metav1.ConditionTrue,
			teamsv1alpha1.ArchivedReason, archivedMessage)
		return
	}
	if worst == nil {
		conditions.Set(&team.Status.Conditions, s.generation, teamsv1alpha1.ReadyCondition, metav1.ConditionTrue,
			teamsv1alpha1.ReconciledReason, "The team's workspace is ready")
		return
	}
	message := worst.Type + ": " + worst.Message
	if len(others) > 0 {
		message += fmt.Sprintf(" (also not ready: %s)", strings.Join(others, ", "))
	}
	conditions.Set(&team.Status.Conditions, s.generation, teamsv1alpha1.ReadyCondition, worst.Status, worst.Reason, message)
}

// phaseOf summarises Ready: Active when ready (Dormant when ready and
// asleep, Archived when ready and archived), Degraded when it was one of
// those before, Forming until it first is.
func phaseOf(s *scope) teamsv1alpha1.TeamPhase {
	team := s.team
	ready := meta.IsStatusConditionTrue(team.Status.Conditions, teamsv1alpha1.ReadyCondition)
	switch {
	case ready && s.archived:
		return teamsv1alpha1.TeamPhaseArchived
	case ready && s.dormant:
		return teamsv1alpha1.TeamPhaseDormant
	case ready:
		return teamsv1alpha1.TeamPhaseActive
	}
	switch team.Status.Phase {
	case teamsv1alpha1.TeamPhaseActive, teamsv1alpha1.TeamPhaseDormant, teamsv1alpha1.TeamPhaseArchived, teamsv1alpha1.TeamPhaseDegraded:
		return teamsv1alpha1.TeamPhaseDegraded
	}
	return teamsv1alpha1.TeamPhaseForming
}

// progressReasons are the reasons of a condition on its way to True, or of a
// choice the team made: no Event is recorded for them.
var progressReasons = map[string]bool{
	teamsv1alpha1.ProvisioningReason:        true,
	teamsv1alpha1.AppsUnavailableReason:     true,
	teamsv1alpha1.WaitingForNamespaceReason: true,
	teamsv1alpha1.NoCoachReason:             true,
	teamsv1alpha1.CoachAtCapacityReason:     true,
	teamsv1alpha1.RetainedReason:            true,
	teamsv1alpha1.ArchivedReason:            true,
	teamsv1alpha1.AwaitingCopyReason:        true,
	teamsv1alpha1.PausedForCopyReason:       true,
}

// archivedMessage is Ready's message, and the Event's, for an archived team:
// what archiving did, and how to come back.
const archivedMessage = "The team is archived and nothing of it is deleted: its workloads are stopped, its database is kept " +
	"and cannot be logged in to, its members have read-only access, its coach is released and its quota starts no pod. " +
	"To bring it back, a platform engineer sets spec.lifecycle to Active; the database then gets a new password"

// recordArchive records a Normal Event when the team has just been archived,
// and when it has just come back.
func (r *Reconciler) recordArchive(ctx context.Context, s *scope, before, after *teamsv1alpha1.NeighbourhoodTeam) {
	was := meta.FindStatusCondition(before.Status.Conditions, teamsv1alpha1.ReadyCondition)
	now := meta.FindStatusCondition(after.Status.Conditions, teamsv1alpha1.ReadyCondition)
	wasArchived := was != nil && was.Reason == teamsv1alpha1.ArchivedReason
	switch {
	case s.archived && !wasArchived && now != nil && now.Reason == teamsv1alpha1.ArchivedReason:
		r.Recorder.Eventf(ctx, after, nil, corev1.EventTypeNormal, teamsv1alpha1.ArchivedReason, "Reconcile", "%s", archivedMessage)
	case !s.archived && wasArchived && !s.deleting:
		r.Recorder.Eventf(ctx, after, nil, corev1.EventTypeNormal, teamsv1alpha1.UnarchivedReason, "Reconcile",
			"The team is back from Archived: its members have their access again, its workloads come back as they were, "+
				"it asks its coach again, and its database (if it has one) gets a new password")
	}
}

// recordTransitions records a Warning Event, with the condition's message,
// each time a condition turns from what it was to a problem, so that what
// went wrong is in `kubectl describe` and in the team's Events, not only in
// its status.
func (r *Reconciler) recordTransitions(ctx context.Context, before, after *teamsv1alpha1.NeighbourhoodTeam) {
	for _, t := range slices.Concat(phaseConditions, []string{teamsv1alpha1.SizeWithinLimitCondition}) {
		now := meta.FindStatusCondition(after.Status.Conditions, t)
		if now == nil || now.Status == metav1.ConditionTrue || progressReasons[now.Reason] {
			continue
		}
		if was := meta.FindStatusCondition(before.Status.Conditions, t); was != nil && was.Reason == now.Reason && was.Status == now.Status {
			continue
		}
		r.Recorder.Eventf(ctx, after, nil, corev1.EventTypeWarning, now.Reason, "Reconcile", "%s", now.Message)
	}
}

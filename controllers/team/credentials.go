package team

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/render"
)

// Every member of a team may read its database Secret. So when one leaves,
// the password they could read is made anew (MemberRemoved); also on the
// blueprint's schedule (Scheduled), when the team asks (Requested) and when
// the Secret is deleted (SecretDeleted). status.credentials says when and
// why, never the password nor who left; it is also what carries a rotation
// that did not get through to the next pass: the reason to rotate stays
// until the status records the rotation.

// rotations counts the database passwords made anew, by reason.
var rotationsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "buurt_database_password_rotations_total",
	Help: "Database passwords of teams made anew, by reason (MemberRemoved, Scheduled, Requested, SecretDeleted, Unarchived).",
}, []string{"reason"})

// rotationDue is why this pass is to make the team's database password
// anew, or "" when it is not; a scheduled rotation still to come asks the
// pass to look again then.
func (r *Reconciler) rotationDue(s *scope) teamsv1alpha1.RotationReason {
	team := s.team
	if s.archived {
		// Nobody logs in to an archived team's database; coming back
		// makes the password anew (pendingRotation).
		return ""
	}
	if s.statusBehind {
		// The cache does not have the status that recorded this operator's
		// last rotation yet: what looks due may be done. Look again soon.
		s.requeue(time.Second)
		return ""
	}
	switch {
	case team.Status.Credentials != nil && team.Status.Credentials.RotationPending != "":
		return team.Status.Credentials.RotationPending
	case len(removedMembers(team)) > 0:
		return teamsv1alpha1.RotationMemberRemoved
	case rotationRequested(team):
		return teamsv1alpha1.RotationRequested
	}
	every := rotationInterval(s.blueprint)
	last := team.Status.Credentials
	if every <= 0 || last == nil || last.LastRotationTime == nil {
		return ""
	}
	next := last.LastRotationTime.Add(every)
	if wait := next.Sub(r.now()); wait > 0 {
		s.requeue(wait)
		return ""
	}
	return teamsv1alpha1.RotationScheduled
}

// rotationRequested tells whether the team asks for a rotation not yet
// carried out.
func rotationRequested(team *teamsv1alpha1.NeighbourhoodTeam) bool {
	if team.Spec.Credentials == nil || team.Spec.Credentials.RotationRequest == "" {
		return false
	}
	return team.Status.Credentials == nil || team.Status.Credentials.RotationRequest != team.Spec.Credentials.RotationRequest
}

// rotationInterval is the blueprint's passwordRotation.everyDays, 0 when
// off.
func rotationInterval(blueprint *teamsv1alpha1.TeamBlueprint) time.Duration {
	if blueprint == nil || blueprint.Spec.Database.PasswordRotation == nil {
		return 0
	}
	return time.Duration(blueprint.Spec.Database.PasswordRotation.EveryDays) * 24 * time.Hour
}

// madeReason is why a password is made this pass: the reason to rotate,
// else, for a Secret that has none, Created for a database that never had
// one and SecretDeleted for one that had.
func madeReason(team *teamsv1alpha1.NeighbourhoodTeam, due teamsv1alpha1.RotationReason) teamsv1alpha1.RotationReason {
	switch {
	case due != "":
		return due
	case team.Status.Credentials != nil || team.Status.Database != nil:
		return teamsv1alpha1.RotationSecretDeleted
	default:
		return teamsv1alpha1.RotationCreated
	}
}

// passwordMade records the password this pass made: in status, in the
// metric and, for a rotation, in an Event the team can read. A request the
// team made is carried out by whatever rotation comes first.
func (r *Reconciler) passwordMade(ctx context.Context, s *scope, reason teamsv1alpha1.RotationReason, note string) {
	// As the status will hold it: to the second.
	now := metav1.NewTime(r.now().Truncate(time.Second))
	made := &teamsv1alpha1.CredentialsStatus{LastRotationTime: &now, LastRotationReason: reason}
	if c := s.team.Spec.Credentials; c != nil {
		made.RotationRequest = c.RotationRequest
	}
	r.rotations.made(s.team, made)
	s.credentials = made
	if reason == teamsv1alpha1.RotationCreated {
		return
	}
	rotationsTotal.WithLabelValues(string(reason)).Inc()
	r.Recorder.Eventf(ctx, s.team, nil, corev1.EventTypeNormal, teamsv1alpha1.CredentialsRotatedReason, "Reconcile",
		"Made a new database password (%s): Secret %s holds it, the old one no longer works, and the team's apps "+
			"that use the database restart once to take the new one%s", reason, render.DatabaseSecretName(s.team), note)
}

// passwordKept records, for a team whose status does not say yet when its
// password was made (a team made by an older buurt), that it was made with
// the Secret that holds it.
func passwordKept(s *scope, secret *corev1.Secret) {
	if s.team.Status.Credentials != nil {
		return
	}
	made := secret.CreationTimestamp
	s.credentials = &teamsv1alpha1.CredentialsStatus{LastRotationTime: &made, LastRotationReason: teamsv1alpha1.RotationCreated}
}

// pendingRotation is what status.credentials says after a pass that did not
// make the password it was to make, and, for an Archived team with a
// database, that coming back will make one (RotationUnarchived): the reason
// stays, in the status, until a pass does. A member who left is such a
// reason even when the pass did not get to the database (a namespace not
// buurt's): status.members forgets them after this pass.
func pendingRotation(s *scope) *teamsv1alpha1.CredentialsStatus {
	team := s.team
	if s.statusBehind || s.credentials != nil && s.credentials.LastRotationReason != teamsv1alpha1.RotationCreated {
		return nil
	}
	due := s.rotationDue
	switch {
	case s.archived:
		if team.Status.Database == nil && (s.database == nil || *s.database == nil) {
			return nil
		}
		due = teamsv1alpha1.RotationUnarchived
	case due == "" && team.Status.Database != nil && len(removedMembers(team)) > 0:
		due = teamsv1alpha1.RotationMemberRemoved
	}
	if due == "" {
		return nil
	}
	pending := &teamsv1alpha1.CredentialsStatus{}
	if c := s.credentialsNow(); c != nil {
		pending = c.DeepCopy()
	}
	pending.RotationPending = due
	return pending
}

// credentialsNow is what the status says of the password after this pass.
func (s *scope) credentialsNow() *teamsv1alpha1.CredentialsStatus {
	if s.credentials != nil {
		return s.credentials
	}
	return s.team.Status.Credentials
}

// now is the reconciler's clock's time.
func (r *Reconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

// rotationMemo remembers the last rotation this operator made of each
// team's password, until the cache shows the status that records it: a pass
// that reads the team from the cache before then must not take a reason to
// rotate that the last pass carried out for one still to do (the apps would
// restart twice).
type rotationMemo struct {
	mu     sync.Mutex
	byTeam map[types.UID]memo
}

// memoTTL bounds how long a rotation is remembered: the cache lags the
// apiserver by milliseconds, and a status written by someone else since
// (an older one, restored from a backup) must not hold rotations back for
// longer.
const memoTTL = 10 * time.Second

type memo struct {
	made teamsv1alpha1.CredentialsStatus
	at   time.Time
}

// made records a rotation of team's password.
func (m *rotationMemo) made(team *teamsv1alpha1.NeighbourhoodTeam, made *teamsv1alpha1.CredentialsStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.byTeam == nil {
		m.byTeam = map[types.UID]memo{}
	}
	m.byTeam[team.UID] = memo{made: *made, at: time.Now()}
}

// behind tells whether team, as read, is older than its last rotation; once
// it is not, or memoTTL has passed, the rotation is forgotten. The status
// keeps the time to the second, so a rotation in the same second as the one
// before it is told by its reason and request.
func (m *rotationMemo) behind(team *teamsv1alpha1.NeighbourhoodTeam) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	remembered, ok := m.byTeam[team.UID]
	if !ok {
		return false
	}
	made, c := remembered.made, team.Status.Credentials
	caughtUp := c != nil && c.LastRotationTime != nil && (c.LastRotationTime.After(made.LastRotationTime.Time) ||
		c.LastRotationTime.Equal(made.LastRotationTime) && c.LastRotationReason == made.LastRotationReason &&
			c.RotationRequest == made.RotationRequest)
	if caughtUp || time.Since(remembered.at) > memoTTL {
		delete(m.byTeam, team.UID)
		return false
	}
	return true
}

// forget drops what is remembered of a team that is gone.
func (m *rotationMemo) forget(team types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byTeam, team)
}

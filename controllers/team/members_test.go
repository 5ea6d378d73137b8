package team

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

var (
	anna   = teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: "anna"}
	bram   = teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: "bram"}
	nurses = teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindGroup, Name: "nurses"}
)

func memberStatus(s teamsv1alpha1.Subject, access teamsv1alpha1.MemberAccess) teamsv1alpha1.MemberStatus {
	return teamsv1alpha1.MemberStatus{Subject: s, Access: access}
}

func TestMemberStatusesSayWhoseAccessIsInPlace(t *testing.T) {
	const granted, pending = teamsv1alpha1.MemberAccessGranted, teamsv1alpha1.MemberAccessPending
	team := &teamsv1alpha1.NeighbourhoodTeam{
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{Members: []teamsv1alpha1.Subject{anna, nurses}},
		// bram had access and left; nurses are new.
		Status: teamsv1alpha1.NeighbourhoodTeamStatus{Members: []teamsv1alpha1.MemberStatus{
			memberStatus(anna, granted), memberStatus(bram, granted),
		}},
	}
	for _, tc := range []struct {
		name   string
		access memberAccess
		want   []teamsv1alpha1.MemberStatus
	}{
		{"bound this pass", accessGranted, []teamsv1alpha1.MemberStatus{memberStatus(anna, granted), memberStatus(nurses, granted)}},
		{"binding kept as it was", accessKept, []teamsv1alpha1.MemberStatus{memberStatus(anna, granted), memberStatus(nurses, pending)}},
		{"binding taken away", accessRevoked, []teamsv1alpha1.MemberStatus{memberStatus(anna, pending), memberStatus(nurses, pending)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			NewWithT(t).Expect(memberStatuses(team, tc.access)).To(Equal(tc.want))
		})
	}
	NewWithT(t).Expect(removedMembers(team)).To(Equal([]teamsv1alpha1.Subject{bram}))

	// Someone who never had access could not read the Secret: their leaving
	// rotates nothing.
	team.Status.Members[1].Access = pending
	NewWithT(t).Expect(removedMembers(team)).To(BeEmpty())
}

func TestRotationDue(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := &Reconciler{Clock: clocktesting.NewFakePassiveClock(now)}
	every := &teamsv1alpha1.PasswordRotation{EveryDays: 90}
	at := func(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }
	for _, tc := range []struct {
		name    string
		change  func(*teamsv1alpha1.NeighbourhoodTeam, *teamsv1alpha1.TeamBlueprint)
		want    teamsv1alpha1.RotationReason
		requeue time.Duration
	}{
		{"nothing changed, no schedule", func(*teamsv1alpha1.NeighbourhoodTeam, *teamsv1alpha1.TeamBlueprint) {}, "", 0},
		{"a team made by an older buurt, on a schedule", func(tm *teamsv1alpha1.NeighbourhoodTeam, bp *teamsv1alpha1.TeamBlueprint) {
			bp.Spec.Database.PasswordRotation = every
			tm.Spec.Members = []teamsv1alpha1.Subject{anna}
			tm.Status.Members, tm.Status.Credentials = nil, nil
		}, "", 0},
		{"a rotation the server could not take yet", func(tm *teamsv1alpha1.NeighbourhoodTeam, _ *teamsv1alpha1.TeamBlueprint) {
			tm.Status.Members = tm.Status.Members[:1]
			tm.Status.Credentials.RotationPending = teamsv1alpha1.RotationMemberRemoved
		}, teamsv1alpha1.RotationMemberRemoved, 0},
		{"a member with access left", func(tm *teamsv1alpha1.NeighbourhoodTeam, _ *teamsv1alpha1.TeamBlueprint) {
			tm.Spec.Members = []teamsv1alpha1.Subject{anna}
		}, teamsv1alpha1.RotationMemberRemoved, 0},
		{"the team asks", func(tm *teamsv1alpha1.NeighbourhoodTeam, _ *teamsv1alpha1.TeamBlueprint) {
			tm.Spec.Credentials = &teamsv1alpha1.TeamCredentials{RotationRequest: "monday"}
		}, teamsv1alpha1.RotationRequested, 0},
		{"the team's request was carried out", func(tm *teamsv1alpha1.NeighbourhoodTeam, _ *teamsv1alpha1.TeamBlueprint) {
			tm.Spec.Credentials = &teamsv1alpha1.TeamCredentials{RotationRequest: "monday"}
			tm.Status.Credentials.RotationRequest = "monday"
		}, "", 0},
		{"the schedule's time has come", func(tm *teamsv1alpha1.NeighbourhoodTeam, bp *teamsv1alpha1.TeamBlueprint) {
			bp.Spec.Database.PasswordRotation = every
			tm.Status.Credentials.LastRotationTime = at(now.Add(-90 * 24 * time.Hour))
		}, teamsv1alpha1.RotationScheduled, 0},
		{"the schedule's time is a day away", func(tm *teamsv1alpha1.NeighbourhoodTeam, bp *teamsv1alpha1.TeamBlueprint) {
			bp.Spec.Database.PasswordRotation = every
			tm.Status.Credentials.LastRotationTime = at(now.Add(-89 * 24 * time.Hour))
		}, "", 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			team := &teamsv1alpha1.NeighbourhoodTeam{
				Spec: teamsv1alpha1.NeighbourhoodTeamSpec{Members: []teamsv1alpha1.Subject{anna, bram}},
				Status: teamsv1alpha1.NeighbourhoodTeamStatus{
					Members: []teamsv1alpha1.MemberStatus{
						memberStatus(anna, teamsv1alpha1.MemberAccessGranted), memberStatus(bram, teamsv1alpha1.MemberAccessGranted),
					},
					Credentials: &teamsv1alpha1.CredentialsStatus{
						LastRotationTime: at(now.Add(-time.Hour)), LastRotationReason: teamsv1alpha1.RotationCreated,
					},
				},
			}
			bp := &teamsv1alpha1.TeamBlueprint{}
			tc.change(team, bp)
			s := &scope{team: team, blueprint: bp}
			g.Expect(r.rotationDue(s)).To(Equal(tc.want))
			g.Expect(s.requeueAfter).To(Equal(tc.requeue))
		})
	}
}

func TestARotationNotYetInTheCacheIsNotMadeAgain(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := &Reconciler{Clock: clocktesting.NewFakePassiveClock(now)}
	team := &teamsv1alpha1.NeighbourhoodTeam{
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{Members: []teamsv1alpha1.Subject{anna}},
		Status: teamsv1alpha1.NeighbourhoodTeamStatus{Members: []teamsv1alpha1.MemberStatus{
			memberStatus(anna, teamsv1alpha1.MemberAccessGranted), memberStatus(bram, teamsv1alpha1.MemberAccessGranted),
		}},
	}
	team.UID = "team-uid"
	// The team was made in the same second: its first password's time is
	// the rotation's.
	created := metav1.NewTime(now)
	team.Status.Credentials = &teamsv1alpha1.CredentialsStatus{LastRotationTime: &created, LastRotationReason: teamsv1alpha1.RotationCreated}
	r.rotations.made(team, &teamsv1alpha1.CredentialsStatus{LastRotationTime: &created, LastRotationReason: teamsv1alpha1.RotationMemberRemoved})
	// The cache still has the status from before the rotation: no reason
	// to rotate is taken from it, nor kept as pending.
	s := &scope{team: team, blueprint: &teamsv1alpha1.TeamBlueprint{}, statusBehind: r.rotations.behind(team)}
	g.Expect(r.rotationDue(s)).To(BeEmpty())
	g.Expect(s.requeueAfter).To(Equal(time.Second))
	team.Status.Database = &teamsv1alpha1.TeamDatabaseStatus{Class: teamsv1alpha1.DatabaseClassShared}
	g.Expect(pendingRotation(s)).To(BeNil())
	// Now it has the status that recorded it.
	caughtUp := metav1.NewTime(now)
	team.Status.Members = team.Status.Members[:1]
	team.Status.Credentials = &teamsv1alpha1.CredentialsStatus{LastRotationTime: &caughtUp, LastRotationReason: teamsv1alpha1.RotationMemberRemoved}
	s = &scope{team: team, blueprint: &teamsv1alpha1.TeamBlueprint{}, statusBehind: r.rotations.behind(team)}
	g.Expect(r.rotationDue(s)).To(BeEmpty())
	g.Expect(s.requeueAfter).To(BeZero())
	g.Expect(r.rotations.byTeam).To(BeEmpty())

	// A status someone else wrote back (older than the rotation) holds
	// rotations back for memoTTL at most.
	r.rotations.made(team, &teamsv1alpha1.CredentialsStatus{LastRotationTime: &caughtUp, LastRotationReason: teamsv1alpha1.RotationRequested})
	older := metav1.NewTime(now.Add(-48 * time.Hour))
	team.Status.Credentials.LastRotationTime = &older
	g.Expect(r.rotations.behind(team)).To(BeTrue())
	remembered := r.rotations.byTeam[team.UID]
	remembered.at = time.Now().Add(-memoTTL - time.Second)
	r.rotations.byTeam[team.UID] = remembered
	g.Expect(r.rotations.behind(team)).To(BeFalse())
	g.Expect(r.rotations.byTeam).To(BeEmpty())
}

// A member who leaves while the cache is behind this operator's last
// rotation (they left right after it) is not forgotten: the pass that may
// not rotate keeps status.members as it read it, so the next pass, caught
// up, still finds them gone and makes the password anew.
func TestALeaverIsNotForgottenWhileTheCacheIsBehind(t *testing.T) {
	g := NewWithT(t)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := &Reconciler{Clock: clocktesting.NewFakePassiveClock(now)}
	rotated := metav1.NewTime(now)
	team := &teamsv1alpha1.NeighbourhoodTeam{
		Spec: teamsv1alpha1.NeighbourhoodTeamSpec{Members: []teamsv1alpha1.Subject{bram}},
		Status: teamsv1alpha1.NeighbourhoodTeamStatus{
			Members: []teamsv1alpha1.MemberStatus{
				memberStatus(anna, teamsv1alpha1.MemberAccessGranted), memberStatus(bram, teamsv1alpha1.MemberAccessGranted),
			},
			Database: &teamsv1alpha1.TeamDatabaseStatus{Class: teamsv1alpha1.DatabaseClassDedicated},
		},
	}
	team.UID = "leaver-uid"
	r.rotations.made(team, &teamsv1alpha1.CredentialsStatus{LastRotationTime: &rotated, LastRotationReason: teamsv1alpha1.RotationSecretDeleted})
	s := &scope{team: team, blueprint: &teamsv1alpha1.TeamBlueprint{}, statusBehind: r.rotations.behind(team),
		findings: map[string]finding{}, failed: map[string]error{}, memberAccess: accessGranted}
	g.Expect(s.statusBehind).To(BeTrue())
	g.Expect(r.rotationDue(s)).To(BeEmpty())
	setStatus(s)
	g.Expect(team.Status.Members).To(Equal([]teamsv1alpha1.MemberStatus{
		memberStatus(anna, teamsv1alpha1.MemberAccessGranted), memberStatus(bram, teamsv1alpha1.MemberAccessGranted),
	}), "Anna, who left, is kept for the next pass")

	// Caught up: the status that recorded the rotation, Anna still in it.
	team.Status.Credentials = &teamsv1alpha1.CredentialsStatus{LastRotationTime: &rotated, LastRotationReason: teamsv1alpha1.RotationSecretDeleted}
	s = &scope{team: team, blueprint: &teamsv1alpha1.TeamBlueprint{}, statusBehind: r.rotations.behind(team)}
	g.Expect(r.rotationDue(s)).To(Equal(teamsv1alpha1.RotationMemberRemoved))
}

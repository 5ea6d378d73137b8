package blueprint

import (
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

func TestSetStatus(t *testing.T) {
	const refusal = `ResourceQuota "buurt-quota" is invalid: spec.hard[pods]: Invalid value: "-5": must be greater than or equal to 0`
	team := func(name string, members int, quota ...metav1.Condition) teamsv1alpha1.NeighbourhoodTeam {
		t := teamsv1alpha1.NeighbourhoodTeam{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for i := range members {
			t.Spec.Members = append(t.Spec.Members, teamsv1alpha1.Subject{Kind: teamsv1alpha1.SubjectKindUser, Name: fmt.Sprintf("m%d", i)})
		}
		t.Status.Conditions = quota
		return t
	}
	rejected := func(message string) metav1.Condition {
		return metav1.Condition{Type: teamsv1alpha1.QuotaReadyCondition, Status: metav1.ConditionFalse,
			Reason: teamsv1alpha1.RejectedReason, Message: message}
	}
	quotaReady := metav1.Condition{Type: teamsv1alpha1.QuotaReadyCondition, Status: metav1.ConditionTrue, Reason: teamsv1alpha1.ReconciledReason}
	forbidden := metav1.Condition{Type: teamsv1alpha1.QuotaReadyCondition, Status: metav1.ConditionFalse, Reason: teamsv1alpha1.ForbiddenReason}
	many := make([]teamsv1alpha1.NeighbourhoodTeam, 0, 12)
	for i := range 12 {
		many = append(many, team(fmt.Sprintf("t%02d", i), 1, rejected(fmt.Sprintf("refusal %d", i))))
	}

	for _, tc := range []struct {
		name    string
		teams   []teamsv1alpha1.NeighbourhoodTeam
		status  metav1.ConditionStatus
		reason  string
		message string
	}{
		{
			name:  "no teams",
			teams: nil, status: metav1.ConditionTrue, reason: teamsv1alpha1.ReconciledReason,
			message: "Used by 0 teams",
		},
		{
			name:  "teams that fit, with their quota in place or not yet reported",
			teams: []teamsv1alpha1.NeighbourhoodTeam{team("a", 2, quotaReady), team("b", 1)}, status: metav1.ConditionTrue, reason: teamsv1alpha1.ReconciledReason,
			message: "Used by 2 teams",
		},
		{
			name:  "a quota buurt may not make is not the blueprint's fault",
			teams: []teamsv1alpha1.NeighbourhoodTeam{team("a", 1, forbidden)}, status: metav1.ConditionTrue, reason: teamsv1alpha1.ReconciledReason,
			message: "Used by 1 team",
		},
		{
			name:  "too many members",
			teams: []teamsv1alpha1.NeighbourhoodTeam{team("c", 3), team("a", 1), team("b", 4)}, status: metav1.ConditionFalse, reason: teamsv1alpha1.TooManyMembersReason,
			message: "Used by 3 teams; more members than maxMembers 2: b, c",
		},
		{
			name:  "one team's quota refused",
			teams: []teamsv1alpha1.NeighbourhoodTeam{team("a", 1, rejected(refusal)), team("b", 1, quotaReady)}, status: metav1.ConditionFalse, reason: teamsv1alpha1.RejectedReason,
			message: "Used by 2 teams; the apiserver refused the quota or limits made from this blueprint for team a: " + refusal + "; fix spec.quota or spec.limits",
		},
		{
			name:  "both, in order of name",
			teams: []teamsv1alpha1.NeighbourhoodTeam{team("c", 3, rejected("other")), team("b", 1, rejected(refusal)), team("a", 1)}, status: metav1.ConditionFalse, reason: teamsv1alpha1.RejectedReason,
			message: "Used by 3 teams; more members than maxMembers 2: c; " +
				"the apiserver refused the quota or limits made from this blueprint for teams b, c: " + refusal + "; fix spec.quota or spec.limits",
		},
		{
			name:  "many refused",
			teams: many, status: metav1.ConditionFalse, reason: teamsv1alpha1.RejectedReason,
			message: "Used by 12 teams; the apiserver refused the quota or limits made from this blueprint for " +
				"teams t00, t01, t02, t03, t04, t05, t06, t07, t08, t09 and 2 more: refusal 0; fix spec.quota or spec.limits",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			blueprint := &teamsv1alpha1.TeamBlueprint{
				ObjectMeta: metav1.ObjectMeta{Name: "bp", Generation: 3},
				Spec:       teamsv1alpha1.TeamBlueprintSpec{MaxMembers: 2},
			}
			setStatus(blueprint, tc.teams)
			g.Expect(int(blueprint.Status.TeamCount)).To(Equal(len(tc.teams)))
			g.Expect(blueprint.Status.ObservedGeneration).To(Equal(int64(3)))
			g.Expect(blueprint.Status.Conditions).To(HaveExactElements(metav1.Condition{
				Type: teamsv1alpha1.ReadyCondition, Status: tc.status, Reason: tc.reason, Message: tc.message,
				ObservedGeneration: 3, LastTransitionTime: blueprint.Status.Conditions[0].LastTransitionTime,
			}))
		})
	}
}

func TestNoteFitsAnEvent(t *testing.T) {
	g := NewWithT(t)
	g.Expect(note("short")).To(Equal("short"))
	exact := strings.Repeat("a", maxNoteLength)
	g.Expect(note(exact)).To(Equal(exact))
	// A cut never splits a character.
	long := strings.Repeat("a", maxNoteLength-4) + "éééé"
	g.Expect(note(long)).To(Equal(strings.Repeat("a", maxNoteLength-4) + "…"))
	g.Expect(len(note(long))).To(BeNumerically("<=", maxNoteLength))
}

func TestSetHardening(t *testing.T) {
	g := NewWithT(t)
	blueprint := &teamsv1alpha1.TeamBlueprint{ObjectMeta: metav1.ObjectMeta{Name: "bp", Generation: 4}}
	setHardening(blueprint, &hardening{metav1.ConditionFalse, teamsv1alpha1.PublicCanConnectReason, "open"})
	g.Expect(blueprint.Status.Conditions).To(HaveExactElements(metav1.Condition{
		Type: teamsv1alpha1.DatabaseServerHardenedCondition, Status: metav1.ConditionFalse, Reason: teamsv1alpha1.PublicCanConnectReason,
		Message: "open", ObservedGeneration: 4, LastTransitionTime: blueprint.Status.Conditions[0].LastTransitionTime,
	}))
	// A blueprint that no longer names a shared server says nothing about one.
	setHardening(blueprint, nil)
	g.Expect(blueprint.Status.Conditions).To(BeEmpty())
}

// Whether buurt could not look, or may not, is told apart from policies
// that are missing.
func TestSetTenantRulesWhenBuurtCannotLook(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		message string
	}{
		{"forbidden", apierrors.NewForbidden(schema.GroupResource{Group: "admissionregistration.k8s.io", Resource: "validatingadmissionpolicies"}, "x", nil),
			"buurt may not read its admission policies: grant the operator get on validatingadmissionpolicies, mutatingadmissionpolicies and their bindings"},
		{"no answer", apierrors.NewServiceUnavailable("etcd"), "buurt could not check its admission policies; it tries again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			blueprint := &teamsv1alpha1.TeamBlueprint{ObjectMeta: metav1.ObjectMeta{Name: "bp", Generation: 2}}
			setTenantRules(blueprint, nil, tc.err)
			g.Expect(blueprint.Status.Conditions).To(HaveExactElements(metav1.Condition{
				Type: teamsv1alpha1.TenantRulesEnforcedCondition, Status: metav1.ConditionUnknown, Reason: teamsv1alpha1.ReconcileErrorReason,
				Message: tc.message, ObservedGeneration: 2, LastTransitionTime: blueprint.Status.Conditions[0].LastTransitionTime,
			}))
		})
	}
}

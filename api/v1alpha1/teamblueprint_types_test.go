package v1alpha1_test

import (
	"testing"

	. "github.com/onsi/gomega"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// TestAllowsMembers holds the member limit's edge: a team of exactly
// maxMembers fits.
func TestAllowsMembers(t *testing.T) {
	g := NewWithT(t)
	blueprint := &teamsv1alpha1.TeamBlueprint{Spec: teamsv1alpha1.TeamBlueprintSpec{MaxMembers: 3}}
	g.Expect(blueprint.AllowsMembers(2)).To(BeTrue())
	g.Expect(blueprint.AllowsMembers(3)).To(BeTrue())
	g.Expect(blueprint.AllowsMembers(4)).To(BeFalse())
}

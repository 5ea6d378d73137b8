package v1alpha1_test

import (
	"testing"

	. "github.com/onsi/gomega"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
)

// A database size is written in whole MiB, to two significant figures from
// 100 MiB on.
func TestDatabaseSizeOf(t *testing.T) {
	const mib = 1 << 20
	for bytes, want := range map[int64]string{
		0:                 "1Mi",
		7*mib + mib/2 - 1: "7Mi",
		7*mib + mib/2:     "8Mi",
		99*mib + mib/2:    "100Mi",
		104 * mib:         "100Mi",
		105 * mib:         "110Mi",
		1234 * mib:        "1200Mi",
		5 << 30:           "5100Mi",
		10 << 30:          "10000Mi",
	} {
		size := teamsv1alpha1.DatabaseSizeOf(bytes)
		NewWithT(t).Expect(size.String()).To(Equal(want), "%d bytes", bytes)
	}
}

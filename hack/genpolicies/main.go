// Command genpolicies writes buurt's tenant policies (package policies) to
// the file it is given; `make manifests` runs it for
// config/policies/tenant.yaml.
package main

import (
	"fmt"
	"os"

	"github.com/buurt-dev/buurt/internal/policies"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genpolicies FILE")
		os.Exit(2)
	}
	data, err := policies.YAML()
	if err == nil {
		err = os.WriteFile(os.Args[1], data, 0o644) //nolint:gosec // a manifest in the repository, read by everyone
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

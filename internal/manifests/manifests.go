// Package manifests reads the repository's YAML manifests.
package manifests

import (
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Each calls fn with every object of a multi-document YAML file, in order,
// and stops at the first error.
func Each(path string, fn func(*unstructured.Unstructured) error) error {
	f, err := os.Open(path) //nolint:gosec // the repository's own manifests, named by the caller
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	decoder := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := decoder.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("failed to decode %s: %w", path, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := fn(obj); err != nil {
			return err
		}
	}
}

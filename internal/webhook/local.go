package webhook

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// LocalConfiguration changes config/webhook's configuration for an operator
// that runs on this machine rather than behind a Service: named
// ConfigurationName, calling https://localhost:port, whose certificate the
// operator issues for localhost (--webhook-dns-names). With ignoreFailures,
// requests go through while the operator is stopped, as `make dev` wants
// after Ctrl-C; an installation fails them.
func LocalConfiguration(port int, ignoreFailures bool) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) {
		u.SetName(ConfigurationName)
		hooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
		for i := range hooks {
			h, ok := hooks[i].(map[string]any)
			if !ok {
				continue
			}
			path, _, _ := unstructured.NestedString(h, "clientConfig", "service", "path")
			h["clientConfig"] = map[string]any{"url": fmt.Sprintf("https://localhost:%d%s", port, path)}
			if ignoreFailures {
				h["failurePolicy"] = "Ignore"
			}
		}
		_ = unstructured.SetNestedSlice(u.Object, hooks, "webhooks")
	}
}

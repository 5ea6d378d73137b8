package manifests

import (
	"testing"

	. "github.com/onsi/gomega"
	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// healthKey is the key of argocd-cm that holds a health check for
// NeighbourhoodTeam.
const healthKey = "resource.customizations.health.teams.buurt.dev_NeighbourhoodTeam"

// TestArgoCDHealthCheck runs docs/gitops.md's health check for
// NeighbourhoodTeam with gopher-lua, the Lua Argo CD runs, as Argo CD does
// (the object as the global obj, the chunk's return value the health), on a
// team in each state.
func TestArgoCDHealthCheck(t *testing.T) {
	g := NewWithT(t)
	var script string
	for _, obj := range yamlBlocks(t, "gitops.md") {
		if obj.GetKind() == "ConfigMap" && obj.GetName() == "argocd-cm" {
			script, _, _ = unstructured.NestedString(obj.Object, "data", healthKey)
		}
	}
	g.Expect(script).NotTo(BeEmpty(), "docs/gitops.md has no argocd-cm with %s", healthKey)

	team := func(generation, observed int64, phase, ready, message string) map[string]any {
		obj := map[string]any{
			"apiVersion": "teams.buurt.dev/v1alpha1", "kind": "NeighbourhoodTeam",
			"metadata": map[string]any{"name": "meadow-east", "generation": generation},
		}
		if phase != "" {
			obj["status"] = map[string]any{
				"observedGeneration": observed, "phase": phase,
				"conditions": []any{
					map[string]any{"type": "NamespaceReady", "status": "True", "reason": "Reconciled", "message": "The namespace is in place"},
					map[string]any{"type": "Ready", "status": ready, "reason": "Reconciled", "message": message},
				},
			}
		}
		return obj
	}
	for _, tc := range []struct {
		name            string
		obj             map[string]any
		status, message string
	}{
		{"new", team(1, 0, "", "", ""), "Progressing", "buurt has not looked at this team yet"},
		{"changed", team(2, 1, "Active", "True", "Every part of the workspace is ready"),
			"Progressing", "buurt has not looked at this change yet"},
		{"ready", team(2, 2, "Active", "True", "Every part of the workspace is ready"),
			"Healthy", "Every part of the workspace is ready"},
		{"forming", team(1, 1, "Forming", "False", "Waiting for the database"), "Progressing", "Waiting for the database"},
		{"degraded", team(3, 3, "Degraded", "False", "Quota rejected"), "Degraded", "Quota rejected"},
		{"unknown", team(3, 3, "Active", "Unknown", "buurt could not check"), "Degraded", "buurt could not check"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			state := lua.NewState(lua.Options{SkipOpenLibs: false})
			defer state.Close()
			state.SetGlobal("obj", toLua(state, tc.obj))
			g.Expect(state.DoString(script)).To(Succeed())
			hs, ok := state.Get(-1).(*lua.LTable)
			g.Expect(ok).To(BeTrue(), "the check returns a table")
			g.Expect(hs.RawGetString("status").String()).To(Equal(tc.status))
			g.Expect(hs.RawGetString("message").String()).To(Equal(tc.message))
		})
	}
}

// toLua is a JSON-like value as Argo CD hands it to Lua: objects and arrays
// as tables (arrays from 1), numbers, strings and booleans as themselves.
func toLua(state *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		table := state.NewTable()
		for key, value := range v {
			table.RawSetString(key, toLua(state, value))
		}
		return table
	case []any:
		table := state.NewTable()
		for _, value := range v {
			table.Append(toLua(state, value))
		}
		return table
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	}
	return lua.LNil
}

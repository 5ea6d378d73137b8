package manifests

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"

	teamsv1alpha1 "github.com/buurt-dev/buurt/api/v1alpha1"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// yamlBlocks are the objects in the yaml blocks of a doc under docs/.
func yamlBlocks(t *testing.T, doc string) []*unstructured.Unstructured {
	t.Helper()
	var objects []*unstructured.Unstructured
	for _, b := range codeBlocks(t, filepath.Join("docs", doc)) {
		if b.lang != "yaml" {
			continue
		}
		decoder := yaml.NewYAMLOrJSONDecoder(strings.NewReader(b.body), 4096)
		for {
			obj := &unstructured.Unstructured{}
			err := decoder.Decode(&obj.Object)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("docs/%s has a yaml block that is not YAML: %v\n%s", doc, err, b.body)
			}
			objects = append(objects, obj)
		}
	}
	return objects
}

// TestGitOpsDocObjects checks what docs/gitops.md tells a GitOps pipeline to
// apply: the regional values each controller hands the chart render with the
// chart's schema into a Shared default blueprint that says where its server
// is, Argo CD's sync respects the differences it ignores (a team's members
// and apps, in the teams' Application), and Flux rolls out every new commit
// of the chart. The e2e TestFluxSyncsBuurtAndTeams applies the Flux objects.
func TestGitOpsDocObjects(t *testing.T) {
	g := NewWithT(t)
	var kinds []string
	for _, obj := range yamlBlocks(t, "gitops.md") {
		kinds = append(kinds, obj.GetKind())
		var values map[string]any
		switch obj.GetKind() {
		case "Application":
			options, _, _ := unstructured.NestedStringSlice(obj.Object, "spec", "syncPolicy", "syncOptions")
			g.Expect(options).To(ContainElements("ServerSideApply=true", "RespectIgnoreDifferences=true"))
			if path, _, _ := unstructured.NestedString(obj.Object, "spec", "source", "path"); path != "charts/buurt" {
				// The teams' Application ignores what members edit.
				ignored, _, _ := unstructured.NestedSlice(obj.Object, "spec", "ignoreDifferences")
				g.Expect(ignored).To(ConsistOf(map[string]any{"group": "teams.buurt.dev", "kind": "NeighbourhoodTeam",
					"jsonPointers": []any{"/spec/members", "/spec/apps"}}))
				continue
			}
			values, _, _ = unstructured.NestedMap(obj.Object, "spec", "source", "helm", "valuesObject")
		case "HelmRelease":
			values, _, _ = unstructured.NestedMap(obj.Object, "spec", "values")
			strategy, _, _ := unstructured.NestedString(obj.Object, "spec", "chart", "spec", "reconcileStrategy")
			g.Expect(strategy).To(Equal("Revision"))
		default:
			continue
		}
		data, err := json.Marshal(values)
		g.Expect(err).NotTo(HaveOccurred())
		file := filepath.Join(t.TempDir(), "values.json")
		g.Expect(os.WriteFile(file, data, 0o600)).To(Succeed())
		bp := typed[teamsv1alpha1.TeamBlueprint](g, template(t, "--values", file), "TeamBlueprint", "default")
		g.Expect(bp.Spec.Database.Class).To(Equal(teamsv1alpha1.DatabaseClassShared), obj.GetKind())
		g.Expect(bp.Spec.Database.Shared.Egress).NotTo(BeNil(), "%s: a Shared blueprint says where its server is", obj.GetKind())
	}
	g.Expect(kinds).To(Equal([]string{
		// Flux: the operator, the teams' files, the objects that sync them.
		"GitRepository", "HelmRelease",
		"Kustomization", "TeamBlueprint", "Coach", "NeighbourhoodTeam", "NeighbourhoodTeam",
		"GitRepository", "ServiceAccount", "ClusterRoleBinding", "Kustomization",
		// Argo CD: the operator, its health check for teams, the teams.
		"Application", "ConfigMap", "Application",
	}))
}

// block is a fenced code block of a Markdown file.
type block struct {
	lang, body string
}

var fence = regexp.MustCompile("(?ms)^```([a-z]*)\n(.*?)^```$")

// codeBlocks are the fenced code blocks of a Markdown file of the
// repository, in order: the tests run or check each one, so that what the
// docs tell a reader to paste works.
func codeBlocks(t *testing.T, path string) []block {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), path))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []block
	for _, m := range fence.FindAllStringSubmatch(string(data), -1) {
		blocks = append(blocks, block{lang: m[1], body: m[2]})
	}
	return blocks
}

// TestPerformanceDocCommands checks the commands docs/performance.md gives:
// each is `make bench` with settings from its table of variables, each of
// which the Makefile passes on and the benchmark reads.
func TestPerformanceDocCommands(t *testing.T) {
	g := NewWithT(t)
	root := testenv.RepoRoot()
	doc, err := os.ReadFile(filepath.Join(root, "docs", "performance.md"))
	g.Expect(err).NotTo(HaveOccurred())
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(BENCH_[A-Z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	g.Expect(documented).NotTo(BeEmpty(), "docs/performance.md has no table of BENCH_ variables")

	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	g.Expect(err).NotTo(HaveOccurred())
	var bench strings.Builder
	sources, err := filepath.Glob(filepath.Join(root, "test", "bench", "*.go"))
	g.Expect(err).NotTo(HaveOccurred())
	for _, path := range sources {
		data, err := os.ReadFile(path)
		g.Expect(err).NotTo(HaveOccurred())
		bench.Write(data)
	}
	for name := range documented {
		g.Expect(string(makefile)).To(ContainSubstring(name+" ?="), "the Makefile does not set %s", name)
		g.Expect(string(makefile)).To(ContainSubstring("$("+name+")"), "make bench does not use %s", name)
		// What the Makefile passes to the benchmark in its environment, the
		// benchmark reads.
		if strings.Contains(string(makefile), name+"=$("+name+")") {
			g.Expect(bench.String()).To(ContainSubstring(`"`+name+`"`), "test/bench does not read %s", name)
		}
	}

	commands := 0
	for _, b := range codeBlocks(t, filepath.Join("docs", "performance.md")) {
		if b.lang != "sh" {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(b.body), "\n") {
			command, _, _ := strings.Cut(line, "#")
			fields := strings.Fields(command)
			g.Expect(fields[:2]).To(Equal([]string{"make", "bench"}), "docs/performance.md: %q", line)
			for _, setting := range fields[2:] {
				name, _, _ := strings.Cut(setting, "=")
				g.Expect(documented).To(HaveKey(name), "docs/performance.md: %q sets an undocumented variable", line)
			}
			commands++
		}
	}
	g.Expect(commands).To(BeNumerically(">", 0))
}

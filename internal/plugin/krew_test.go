package plugin_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"

	"github.com/buurt-dev/buurt/internal/plugin"
	"github.com/buurt-dev/buurt/internal/testenv"
)

// krewPlugin is the part of krew's Plugin (v1alpha2) the test reads.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string `json:"version"`
		Homepage         string `json:"homepage"`
		ShortDescription string `json:"shortDescription"`
		Description      string `json:"description"`
		Platforms        []struct {
			Selector struct {
				MatchLabels map[string]string `json:"matchLabels"`
			} `json:"selector"`
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

var addURIAndSha = regexp.MustCompile(`\{\{ *addURIAndSha "([^"]+)" \.TagName *\}\}`)

// The krew manifest, filled in as krew-release-bot fills it, is a Plugin
// krew takes (its name, a short description within krew's 50 characters,
// an archive for each platform with the binary named as kubectl looks for
// it) and names every command the plugin has.
func TestKrewManifest(t *testing.T) {
	g := NewWithT(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), ".krew.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	filled := addURIAndSha.ReplaceAllString(string(data), "uri: $1\n    sha256: "+strings.Repeat("0", 64))
	filled = strings.ReplaceAll(filled, "{{ .TagName }}", "v0.2.0")
	var p krewPlugin
	g.Expect(yaml.UnmarshalStrict([]byte(filled), &p)).To(Succeed(), filled)
	g.Expect(p.APIVersion).To(Equal("krew.googlecontainertools.github.com/v1alpha2"))
	g.Expect(p.Kind).To(Equal("Plugin"))
	g.Expect(p.Metadata.Name).To(Equal("buurt"))
	g.Expect(p.Spec.Version).To(Equal("v0.2.0"))
	g.Expect(len(p.Spec.ShortDescription)).To(BeNumerically("<=", 50))
	var platforms []string
	for _, platform := range p.Spec.Platforms {
		labels := platform.Selector.MatchLabels
		platforms = append(platforms, labels["os"]+"/"+labels["arch"])
		bin := "kubectl-buurt"
		if labels["os"] == "windows" {
			bin += ".exe"
		}
		g.Expect(platform.Bin).To(Equal(bin))
		g.Expect(platform.URI).To(HavePrefix("https://github.com/buurt-dev/buurt/releases/download/v0.2.0/kubectl-buurt_v0.2.0_" +
			labels["os"] + "_" + labels["arch"] + "."))
	}
	g.Expect(platforms).To(Equal([]string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}))
	for _, cmd := range plugin.Command(nil, time.Now).Commands() {
		if cmd.Name() == "help" || cmd.Name() == "completion" {
			continue
		}
		g.Expect(p.Spec.Description).To(ContainSubstring("`kubectl buurt "+cmd.Use), "the description names %s", cmd.Name())
	}
}

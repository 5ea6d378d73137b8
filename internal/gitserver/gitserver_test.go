package gitserver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
)

// A commit pushed to a repository is what a clone over HTTP gets, and a
// second commit is what a fetch then gets.
func TestServesWhatIsCommitted(t *testing.T) {
	g := NewWithT(t)
	s, err := Start(t.TempDir())
	g.Expect(err).NotTo(HaveOccurred())
	defer s.Close()
	repo, err := s.NewRepo("teams")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(repo.URL).To(Equal(s.URL + "/teams.git"))
	g.Expect(os.WriteFile(filepath.Join(repo.Dir(), "team.yaml"), []byte("members: [anna]\n"), 0o600)).To(Succeed())
	first, err := repo.Commit("Anna's team")
	g.Expect(err).NotTo(HaveOccurred())

	clone := filepath.Join(t.TempDir(), "clone")
	_, err = git(context.Background(), "", "clone", "--quiet", repo.URL, clone)
	g.Expect(err).NotTo(HaveOccurred())
	data, err := os.ReadFile(filepath.Join(clone, "team.yaml")) //nolint:gosec // the test's own clone
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(data)).To(Equal("members: [anna]\n"))
	head, err := git(context.Background(), clone, "rev-parse", "HEAD")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(strings.TrimSpace(head)).To(Equal(first))

	g.Expect(os.WriteFile(filepath.Join(repo.Dir(), "team.yaml"), []byte("members: [anna, bram]\n"), 0o600)).To(Succeed())
	second, err := repo.Commit("Bram joins")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(second).NotTo(Equal(first))
	_, err = git(context.Background(), clone, "pull", "--quiet")
	g.Expect(err).NotTo(HaveOccurred())
	data, err = os.ReadFile(filepath.Join(clone, "team.yaml")) //nolint:gosec // the test's own clone
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(data)).To(Equal("members: [anna, bram]\n"))
}

package manifests

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/buurt-dev/buurt/internal/testenv"
)

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

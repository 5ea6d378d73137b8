package main

import (
	"encoding/json"
	"os"
	"testing"

	. "github.com/onsi/gomega"
)

// TestREADMEIsCurrent fails when values.yaml or its schema changed without
// `make manifests`.
func TestREADMEIsCurrent(t *testing.T) {
	g := NewWithT(t)
	root, err := os.OpenRoot("../../charts/buurt")
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = root.Close() })
	current, err := root.ReadFile("README.md")
	g.Expect(err).NotTo(HaveOccurred())
	want, err := Generate(root, current)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(string(current)).To(Equal(string(want)), "charts/buurt/README.md is stale: run make manifests")
}

func TestRows(t *testing.T) {
	g := NewWithT(t)
	var s schema
	g.Expect(json.Unmarshal([]byte(`{"properties": {
		"replicas": {"type": "integer"},
		"db": {"properties": {"class": {"enum": ["Shared", "None"]}, "hosts": {"type": "array", "items": {"type": "string"}}}},
		"extra": {"type": ["object", "null"]}}}`), &s)).To(Succeed())
	rows, err := Rows([]byte(`# The file's own comment.

# -- How many | replicas,
# more than <one> elect a leader.
replicas: 2
db:
  # A note for readers of values.yaml only.
  # -- The class.
  class: Shared
  # -- Where it is.
  hosts: [a, b]
# -- Anything else.
extra: {x: {y: 1}}
`), &s)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(rows).To(Equal([]Row{
		{Path: "replicas", Type: "integer", Default: "`2`", Description: "How many | replicas, more than <one> elect a leader."},
		{Path: "db.class", Type: `one of "Shared", "None"`, Default: "`\"Shared\"`", Description: "The class."},
		{Path: "db.hosts", Type: "list of string", Default: "`[\"a\",\"b\"]`", Description: "Where it is."},
		{Path: "extra", Type: "object or null", Default: "`{\"x\":{\"y\":1}}`", Description: "Anything else."},
	}))
	g.Expect(cell(rows[0].Description)).To(Equal(`How many \| replicas, more than &lt;one&gt; elect a leader.`))
}

// TestEveryValueIsDocumented refuses a value without a "# --" comment, and
// a value the schema takes that values.yaml does not show.
func TestEveryValueIsDocumented(t *testing.T) {
	g := NewWithT(t)
	var s schema
	g.Expect(json.Unmarshal([]byte(`{"properties": {"a": {"properties": {"b": {}, "c": {}, "hidden": {}}}, "d": {}}}`), &s)).To(Succeed())
	_, err := Rows([]byte(`a:
  # -- Documented.
  b: 1
  c: 2
# A comment that is not documentation.
d: {}
`), &s)
	g.Expect(err).To(MatchError(`values without a "# --" comment in values.yaml: a.c, a.hidden, d`))
}

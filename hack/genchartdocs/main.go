// Command genchartdocs writes the values table of a chart's README from its
// values.yaml comments and values.schema.json, so that the table regional IT
// reads is the values the chart takes, and every value is documented.
//
//	go run ./hack/genchartdocs charts/buurt
//
// A key documents itself with a comment that starts with "# --" right above
// it; its children need none. A key without one must be a mapping whose
// children are documented, and must name every property its schema has: a
// value only the schema knows would be a value nobody can find.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

const (
	startMarker = "<!-- values:start (make manifests writes this table from values.yaml) -->"
	endMarker   = "<!-- values:end -->"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genchartdocs CHART_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(chart string) error {
	// Everything it reads and writes is in the chart's directory.
	root, err := os.OpenRoot(chart)
	if err != nil {
		return err
	}
	defer func() { _ = root.Close() }()
	current, err := root.ReadFile("README.md")
	if err != nil {
		return err
	}
	updated, err := Generate(root, current)
	if err != nil {
		return err
	}
	if bytes.Equal(updated, current) {
		return nil
	}
	return root.WriteFile("README.md", updated, 0o644)
}

// Generate returns readme with the table between its markers made from the
// values.yaml and values.schema.json of the chart at root.
func Generate(root *os.Root, readme []byte) ([]byte, error) {
	values, err := root.ReadFile("values.yaml")
	if err != nil {
		return nil, err
	}
	schemaData, err := root.ReadFile("values.schema.json")
	if err != nil {
		return nil, err
	}
	var s schema
	if err := json.Unmarshal(schemaData, &s); err != nil {
		return nil, fmt.Errorf("values.schema.json: %w", err)
	}
	rows, err := Rows(values, &s)
	if err != nil {
		return nil, err
	}
	start := bytes.Index(readme, []byte(startMarker))
	end := bytes.Index(readme, []byte(endMarker))
	if start < 0 || end < start {
		return nil, fmt.Errorf("README.md needs the lines %q and %q around the values table", startMarker, endMarker)
	}
	var out bytes.Buffer
	out.Write(readme[:start+len(startMarker)])
	out.WriteString("\n\n| Value | Type | Default | Description |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&out, "| `%s` | %s | %s | %s |\n", r.Path, cell(r.Type), strings.ReplaceAll(r.Default, "|", `\|`), cell(r.Description))
	}
	out.WriteString("\n")
	out.Write(readme[end:])
	return out.Bytes(), nil
}

// Row is one documented value.
type Row struct {
	Path, Type, Default, Description string
}

// schema is the part of a JSON schema the table shows.
type schema struct {
	Type       any                `json:"type"`
	Enum       []any              `json:"enum"`
	Items      *schema            `json:"items"`
	Properties map[string]*schema `json:"properties"`
}

// Rows are the documented values of a values.yaml, in its order; the error
// names every value that is not documented.
func Rows(values []byte, s *schema) ([]Row, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(values, &doc); err != nil {
		return nil, fmt.Errorf("values.yaml: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("values.yaml is not a mapping")
	}
	w := walker{}
	w.mapping(doc.Content[0], s, "")
	if len(w.undocumented) > 0 {
		return nil, fmt.Errorf("values without a \"# --\" comment in values.yaml: %s", strings.Join(w.undocumented, ", "))
	}
	return w.rows, nil
}

type walker struct {
	rows         []Row
	undocumented []string
}

func (w *walker) mapping(node *yaml.Node, s *schema, prefix string) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		seen[key.Value] = true
		path := prefix + key.Value
		var sub *schema
		if s != nil {
			sub = s.Properties[key.Value]
		}
		if description, ok := doc(key.HeadComment); ok {
			w.rows = append(w.rows, Row{Path: path, Type: typeOf(sub), Default: defaultOf(value), Description: description})
			continue
		}
		if value.Kind != yaml.MappingNode || len(value.Content) == 0 {
			w.undocumented = append(w.undocumented, path)
			continue
		}
		w.mapping(value, sub, path+".")
	}
	if s == nil {
		return
	}
	var missing []string
	for name := range s.Properties {
		if !seen[name] {
			missing = append(missing, prefix+name)
		}
	}
	sort.Strings(missing)
	w.undocumented = append(w.undocumented, missing...)
}

// doc is the text of a "# --" comment: its first line after "--" and the
// lines below it; comment lines above it are notes for the reader of
// values.yaml only.
func doc(comment string) (string, bool) {
	lines := strings.Split(comment, "\n")
	for i, line := range lines {
		first, ok := strings.CutPrefix(line, "# -- ")
		if !ok {
			continue
		}
		words := []string{first}
		for _, l := range lines[i+1:] {
			words = append(words, strings.TrimSpace(strings.TrimPrefix(l, "#")))
		}
		return strings.Join(words, " "), true
	}
	return "", false
}

func typeOf(s *schema) string {
	switch {
	case s == nil:
		return ""
	case len(s.Enum) > 0:
		var names []string
		for _, e := range s.Enum {
			b, _ := json.Marshal(e)
			names = append(names, string(b))
		}
		return "one of " + strings.Join(names, ", ")
	case s.Type == "array" && s.Items != nil && typeOf(s.Items) != "":
		return "list of " + typeOf(s.Items)
	}
	switch t := s.Type.(type) {
	case string:
		return t
	case []any:
		var names []string
		for _, n := range t {
			names = append(names, fmt.Sprint(n))
		}
		return strings.Join(names, " or ")
	}
	return ""
}

// defaultOf shows a default as compact JSON: one line, whatever its shape.
func defaultOf(value *yaml.Node) string {
	var v any
	if err := value.Decode(&v); err != nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return "`" + string(b) + "`"
}

// cell escapes what would end a table cell or read as an HTML tag.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

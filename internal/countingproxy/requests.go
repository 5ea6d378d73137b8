package countingproxy

import (
	"net/http"
	"net/url"
	"strings"
)

// Class is what a request costs the apiserver, as the benchmark's report
// counts it.
type Class int

const (
	// ClassEvent is a write of an Event.
	ClassEvent Class = iota
	// ClassReview is a TokenReview, SubjectAccessReview or one of their
	// self- variants: created, never stored; a question, not a write.
	ClassReview
	// ClassWrite is any other create, update, patch or delete.
	ClassWrite
	// ClassGet reads one object (or discovery).
	ClassGet
	// ClassList reads a collection.
	ClassList
	// ClassWatch opens a watch.
	ClassWatch
	numClasses
)

// Mutating is true for the classes that are created, whether stored or
// not: Events, reviews and writes.
func (c Class) Mutating() bool { return c <= ClassWrite }

// reviews are the resources whose creation asks the apiserver a question.
var reviews = []string{"selfsubjectreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews",
	"tokenreviews", "subjectaccessreviews", "localsubjectaccessreviews"}

// requestKind classifies a request and names its kind: the verb and the
// path, with the names anonymous says are a team's taken out
// ("PATCH(apply) /api/v1/namespaces/{team-ns}/serviceaccounts/{name}"), so
// that a thousand teams' requests add up to a few lines. Names that are not
// a team's (the operator's namespace, its admin Secret) are kept: those are
// the requests whose count should not grow with the teams.
func requestKind(method string, u *url.URL, contentType string, anonymous func(string) bool) (Class, string) {
	path, collection := pathShape(u.Path, anonymous)
	query := u.Query()
	watch := query.Get("watch") == "true" || query.Get("watch") == "1" || strings.Contains(u.Path, "/watch/")
	var c Class
	verb := method
	switch {
	case method == http.MethodGet && watch:
		c, verb = ClassWatch, "WATCH"
	case method == http.MethodGet && collection:
		c, verb = ClassList, "LIST"
	case method == http.MethodGet || method == http.MethodHead:
		c = ClassGet
	case strings.Contains(u.Path, "/events"):
		c = ClassEvent
	case isReview(u.Path):
		c = ClassReview
	default:
		c = ClassWrite
	}
	if method == http.MethodPatch {
		verb += "(" + patchType(contentType) + ")"
	}
	return c, verb + " " + path
}

func isReview(path string) bool {
	for _, r := range reviews {
		if strings.HasSuffix(path, "/"+r) {
			return true
		}
	}
	return false
}

// patchType is the short name of a PATCH's content type.
func patchType(contentType string) string {
	switch {
	case strings.HasPrefix(contentType, "application/apply-patch"):
		return "apply"
	case strings.HasPrefix(contentType, "application/merge-patch"):
		return "merge"
	case strings.HasPrefix(contentType, "application/strategic-merge-patch"):
		return "strategic"
	case strings.HasPrefix(contentType, "application/json-patch"):
		return "json"
	default:
		return contentType
	}
}

// pathShape is an API path with the names anonymous says are a team's
// replaced, and whether it names a collection (a GET of it is a LIST).
// Paths outside /api and /apis (discovery, /version, /openapi) are kept as
// they are.
func pathShape(path string, anonymous func(string) bool) (shape string, collection bool) {
	segments := strings.Split(strings.Trim(path, "/"), "/")
	var prefix int
	switch {
	case len(segments) >= 2 && segments[0] == "api":
		prefix = 2
	case len(segments) >= 3 && segments[0] == "apis":
		prefix = 3
	default:
		return path, false
	}
	out := append([]string{}, segments[:prefix]...)
	rest := segments[prefix:]
	if len(rest) > 0 && rest[0] == "watch" {
		rest = rest[1:]
	}
	if len(rest) >= 3 && rest[0] == "namespaces" {
		out = append(out, "namespaces", placeholder(rest[1], "{team-ns}", anonymous))
		rest = rest[2:]
	}
	if len(rest) == 0 {
		// Discovery of a group version.
		return "/" + strings.Join(out, "/"), false
	}
	out = append(out, rest[0])
	if len(rest) >= 2 {
		out = append(out, placeholder(rest[1], "{name}", anonymous))
		out = append(out, rest[2:]...)
	}
	return "/" + strings.Join(out, "/"), len(rest) == 1
}

// placeholder is p for a name anonymous says is a team's, and the name
// itself otherwise.
func placeholder(name, p string, anonymous func(string) bool) string {
	if anonymous != nil && anonymous(name) {
		return p
	}
	return name
}

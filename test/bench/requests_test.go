//go:build bench

package bench

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// class is what a request costs the apiserver, as the report counts it.
type class int

const (
	// classEvent is a write of an Event.
	classEvent class = iota
	// classReview is a TokenReview, SubjectAccessReview or one of their
	// self- variants: created, never stored.
	classReview
	// classWrite is any other create, update, patch or delete.
	classWrite
	// classGet reads one object (or discovery).
	classGet
	// classList reads a collection.
	classList
	// classWatch opens a watch.
	classWatch
	numClasses
)

func (c class) mutating() bool { return c <= classWrite }

// reviews are the resources whose creation asks the apiserver a question.
var reviews = []string{"selfsubjectreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews",
	"tokenreviews", "subjectaccessreviews", "localsubjectaccessreviews"}

// requestKind classifies a request and names its kind for the report: the
// verb and the path with the names of the benchmark's teams taken out
// ("PATCH(apply) /api/v1/namespaces/{team-ns}/serviceaccounts/{name}"), so
// that a thousand teams' requests add up to a few lines. Names that are not
// a team's (the operator's namespace, its admin Secret) are kept: those are
// the requests whose count should not grow with the teams.
func requestKind(method string, u *url.URL, contentType string) (class, string) {
	path, collection := pathShape(u.Path)
	query := u.Query()
	watch := query.Get("watch") == "true" || query.Get("watch") == "1" || strings.Contains(u.Path, "/watch/")
	var c class
	verb := method
	switch {
	case method == http.MethodGet && watch:
		c, verb = classWatch, "WATCH"
	case method == http.MethodGet && collection:
		c, verb = classList, "LIST"
	case method == http.MethodGet || method == http.MethodHead:
		c = classGet
	case strings.Contains(u.Path, "/events"):
		c = classEvent
	case isReview(u.Path):
		c = classReview
	default:
		c = classWrite
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

// pathShape is an API path with the benchmark's team names replaced, and
// whether it names a collection (a GET of it is a LIST). Paths outside
// /api and /apis (discovery, /version, /openapi) are kept as they are.
func pathShape(path string) (shape string, collection bool) {
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
		out = append(out, "namespaces", anonymous(rest[1], "{team-ns}"))
		rest = rest[2:]
	}
	if len(rest) == 0 {
		// Discovery of a group version.
		return "/" + strings.Join(out, "/"), false
	}
	out = append(out, rest[0])
	if len(rest) >= 2 {
		out = append(out, anonymous(rest[1], "{name}"))
		out = append(out, rest[2:]...)
	}
	return "/" + strings.Join(out, "/"), len(rest) == 1
}

// anonymous is placeholder for a name that belongs to one of the
// benchmark's teams (buurt's or the floor's), and the name itself
// otherwise.
func anonymous(name, placeholder string) string {
	if strings.Contains(name, buurtTeamPrefix) || strings.Contains(name, floorTeamPrefix) {
		return placeholder
	}
	return name
}

func TestRequestKind(t *testing.T) {
	for _, tc := range []struct {
		method, url, contentType string
		class                    class
		kind                     string
	}{
		{"GET", "/api/v1/namespaces/buurt-system/secrets/pg-admin", "", classGet,
			"GET /api/v1/namespaces/buurt-system/secrets/pg-admin"},
		{"GET", "/api/v1/namespaces/team-bench-00001/secrets/bench-00001-db", "", classGet,
			"GET /api/v1/namespaces/{team-ns}/secrets/{name}"},
		{"GET", "/api/v1/namespaces/team-bench-00001/secrets?watch=true&labelSelector=x", "", classWatch,
			"WATCH /api/v1/namespaces/{team-ns}/secrets"},
		{"GET", "/apis/apps/v1/deployments?limit=500", "", classList, "LIST /apis/apps/v1/deployments"},
		{"GET", "/api/v1/namespaces", "", classList, "LIST /api/v1/namespaces"},
		{"GET", "/api/v1/namespaces/team-bench-00001", "", classGet, "GET /api/v1/namespaces/{name}"},
		{"PATCH", "/api/v1/namespaces/team-floor-00001", "application/apply-patch+yaml", classWrite,
			"PATCH(apply) /api/v1/namespaces/{name}"},
		{"PATCH", "/apis/teams.buurt.dev/v1alpha1/neighbourhoodteams/bench-00001/status", "application/merge-patch+json", classWrite,
			"PATCH(merge) /apis/teams.buurt.dev/v1alpha1/neighbourhoodteams/{name}/status"},
		{"POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "application/json", classWrite,
			"POST /apis/rbac.authorization.k8s.io/v1/clusterroles"},
		{"POST", "/apis/events.k8s.io/v1/namespaces/default/events", "application/json", classEvent,
			"POST /apis/events.k8s.io/v1/namespaces/default/events"},
		{"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/json", classReview,
			"POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews"},
		{"GET", "/apis/apps/v1", "", classGet, "GET /apis/apps/v1"},
		{"GET", "/version", "", classGet, "GET /version"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		c, kind := requestKind(tc.method, u, tc.contentType)
		if c != tc.class || kind != tc.kind {
			t.Errorf("%s %s: got class %d %q, want class %d %q", tc.method, tc.url, c, kind, tc.class, tc.kind)
		}
	}
}

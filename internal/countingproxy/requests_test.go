package countingproxy

import (
	"net/url"
	"strings"
	"testing"
)

// benchTeam is the benchmark's Options.Anonymous: its teams are named
// bench-… (buurt's) and floor-… (the floor's).
func benchTeam(name string) bool {
	return strings.Contains(name, "bench-") || strings.Contains(name, "floor-")
}

func TestRequestKind(t *testing.T) {
	for _, tc := range []struct {
		method, url, contentType string
		class                    Class
		kind                     string
	}{
		{"GET", "/api/v1/namespaces/buurt-system/secrets/pg-admin", "", ClassGet,
			"GET /api/v1/namespaces/buurt-system/secrets/pg-admin"},
		{"GET", "/api/v1/namespaces/team-bench-00001/secrets/bench-00001-db", "", ClassGet,
			"GET /api/v1/namespaces/{team-ns}/secrets/{name}"},
		{"GET", "/api/v1/namespaces/team-bench-00001/secrets?watch=true&labelSelector=x", "", ClassWatch,
			"WATCH /api/v1/namespaces/{team-ns}/secrets"},
		{"GET", "/apis/apps/v1/deployments?limit=500", "", ClassList, "LIST /apis/apps/v1/deployments"},
		{"GET", "/api/v1/namespaces", "", ClassList, "LIST /api/v1/namespaces"},
		{"GET", "/api/v1/namespaces/team-bench-00001", "", ClassGet, "GET /api/v1/namespaces/{name}"},
		{"PATCH", "/api/v1/namespaces/team-floor-00001", "application/apply-patch+yaml", ClassWrite,
			"PATCH(apply) /api/v1/namespaces/{name}"},
		{"PATCH", "/apis/teams.buurt.dev/v1alpha1/neighbourhoodteams/bench-00001/status", "application/merge-patch+json", ClassWrite,
			"PATCH(merge) /apis/teams.buurt.dev/v1alpha1/neighbourhoodteams/{name}/status"},
		{"POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "application/json", ClassWrite,
			"POST /apis/rbac.authorization.k8s.io/v1/clusterroles"},
		{"POST", "/apis/events.k8s.io/v1/namespaces/default/events", "application/json", ClassEvent,
			"POST /apis/events.k8s.io/v1/namespaces/default/events"},
		{"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/json", ClassReview,
			"POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews"},
		{"GET", "/apis/apps/v1", "", ClassGet, "GET /apis/apps/v1"},
		{"GET", "/version", "", ClassGet, "GET /version"},
	} {
		u, err := url.Parse(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		c, kind := requestKind(tc.method, u, tc.contentType, benchTeam)
		if c != tc.class || kind != tc.kind {
			t.Errorf("%s %s: got class %d %q, want class %d %q", tc.method, tc.url, c, kind, tc.class, tc.kind)
		}
	}
}

// TestRequestKindKeepsNamesWithoutAnonymous: with no Options.Anonymous
// every name stays, so that a request says whose object it was about.
func TestRequestKindKeepsNamesWithoutAnonymous(t *testing.T) {
	u, err := url.Parse("/api/v1/namespaces/team-bench-00001/secrets/bench-00001-db")
	if err != nil {
		t.Fatal(err)
	}
	c, kind := requestKind("PUT", u, "application/json", nil)
	if want := "PUT /api/v1/namespaces/team-bench-00001/secrets/bench-00001-db"; c != ClassWrite || kind != want {
		t.Errorf("got class %d %q, want class %d %q", c, kind, ClassWrite, want)
	}
}

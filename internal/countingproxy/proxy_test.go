package countingproxy

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/client-go/rest"
)

// TestProxyCountsWhatPasses sends requests through a proxy to a stand-in
// apiserver and finds them counted by class and kind, the token passed on,
// a refusal counted apart, and a window taken from two snapshots.
func TestProxyCountsWhatPasses(t *testing.T) {
	g := NewWithT(t)
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer the-token" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusConflict)
			return
		}
		_, _ = io.WriteString(w, "{}")
	}))
	defer upstream.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: upstream.Certificate().Raw})
	p, err := Start(&rest.Config{Host: upstream.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}, Options{})
	g.Expect(err).NotTo(HaveOccurred())
	defer p.Close()
	g.Expect(p.LastMutation().IsZero()).To(BeTrue())

	cfg := p.ClientConfig(&rest.Config{Host: "https://elsewhere.example.org", BearerToken: "the-token"})
	httpClient, err := rest.HTTPClientFor(cfg)
	g.Expect(err).NotTo(HaveOccurred())
	send := func(method, path, contentType string) int {
		req, err := http.NewRequest(method, cfg.Host+path, strings.NewReader("{}"))
		g.Expect(err).NotTo(HaveOccurred())
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := httpClient.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	g.Expect(send(http.MethodGet, "/api/v1/namespaces/team-a", "")).To(Equal(http.StatusOK))
	before := p.Snapshot()
	begin := time.Now()
	g.Expect(send(http.MethodGet, "/api/v1/namespaces/team-a/secrets", "")).To(Equal(http.StatusOK))
	g.Expect(send(http.MethodPatch, "/api/v1/namespaces/team-a", "application/apply-patch+yaml")).To(Equal(http.StatusOK))
	g.Expect(send(http.MethodPut, "/api/v1/namespaces/team-a", "application/json")).To(Equal(http.StatusConflict))
	g.Expect(send(http.MethodPost, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/json")).To(Equal(http.StatusOK))

	window := p.Snapshot().Since(before)
	g.Expect(window.Total()).To(Equal(int64(4)))
	g.Expect(window.Mutating()).To(Equal(int64(3)))
	g.Expect([]int64{window.Of(ClassGet), window.Of(ClassList), window.Of(ClassWrite), window.Of(ClassReview)}).
		To(Equal([]int64{0, 1, 2, 1}))
	g.Expect(window.Kinds(ClassWrite)).To(Equal(map[string]int64{
		"PATCH(apply) /api/v1/namespaces/team-a":   1,
		"PUT /api/v1/namespaces/team-a":            1,
		"PUT /api/v1/namespaces/team-a → Conflict": 1,
	}))
	g.Expect(window.Kinds()).To(HaveLen(5))
	g.Expect(p.Snapshot().Kinds(ClassGet)).To(Equal(map[string]int64{"GET /api/v1/namespaces/team-a": 1}))
	g.Expect(p.LastMutation()).To(BeTemporally(">=", begin))
}

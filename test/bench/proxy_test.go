//go:build bench

package bench

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/cert"
)

// countingProxy stands between one client (the operator, or the floor) and
// the apiserver and counts every request that client sends, so that what
// the operator asks is attributed exactly, whatever else talks to the
// apiserver at the time.
//
// It serves TLS, and so HTTP/2, like the apiserver: over plain HTTP client-go
// would speak HTTP/1.1, one connection per watch, and the operator, which
// watches the Secrets of each team namespace on its own, would hold a
// thousand connections (and their memory) at a thousand teams where in a pod
// it multiplexes them on one.
type countingProxy struct {
	// url is where the proxy listens, https://127.0.0.1:<port>.
	url string
	// ca is the certificate clients trust the proxy with.
	ca     []byte
	server *http.Server
	tally  *tally
}

// apiserverStreamsPerConnection is what kube-apiserver allows a client on
// one HTTP/2 connection (its --http2-max-streams-per-connection default);
// the proxy allows the same, so that clients open as many connections as
// they would to the apiserver.
const apiserverStreamsPerConnection = 1000

// startProxy starts a proxy to the apiserver of upstream (only its address
// and CA are used: each request keeps the credentials its client sent).
func startProxy(upstream *rest.Config) (*countingProxy, error) {
	target, err := url.Parse(upstream.Host)
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(&rest.Config{Host: upstream.Host, TLSClientConfig: rest.TLSClientConfig{
		CAData: upstream.CAData, CAFile: upstream.CAFile, ServerName: upstream.ServerName,
	}})
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := cert.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	t := newTally()
	reverse := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: transport,
		// Watches stream: every event is passed on as it arrives.
		FlushInterval: -1,
		// A watch ended by its client is not worth a line.
		ErrorLog: log.New(io.Discard, "", 0),
		ModifyResponse: func(resp *http.Response) error {
			t.answered(resp.Request, resp.StatusCode)
			return nil
		},
	}
	p := &countingProxy{url: "https://" + listener.Addr().String(), ca: certPEM, tally: t}
	p.server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.count(r)
			reverse.ServeHTTP(w, r)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: apiserverStreamsPerConnection},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = p.server.ServeTLS(listener, "", "") }()
	return p, nil
}

// clientConfig is cfg, a token-authenticated configuration, pointed at the
// proxy.
func (p *countingProxy) clientConfig(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Host = p.url
	out.TLSClientConfig = rest.TLSClientConfig{CAData: p.ca}
	unlimited(out)
	return out
}

func (p *countingProxy) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.server.Shutdown(ctx); err != nil {
		// Open watches do not end on their own.
		_ = p.server.Close()
	}
}

// tally counts requests by class, and by kind for the report of where they
// go. The classes are atomic counters; the kinds a map behind a lock.
type tally struct {
	byClass [numClasses]atomic.Int64
	// lastMutation and lastRead are when the last mutating and the last
	// read request (watches excluded) arrived, in Unix nanoseconds.
	lastMutation, lastRead atomic.Int64

	mu    sync.Mutex
	kinds map[string]int64
}

func newTally() *tally {
	return &tally{kinds: map[string]int64{}}
}

func (t *tally) count(r *http.Request) {
	c, kind := requestKind(r.Method, r.URL, r.Header.Get("Content-Type"))
	t.byClass[c].Add(1)
	now := time.Now().UnixNano()
	switch {
	case c.mutating():
		t.lastMutation.Store(now)
	case c != classWatch:
		t.lastRead.Store(now)
	}
	t.mu.Lock()
	t.kinds[kind]++
	t.mu.Unlock()
}

// answered counts the requests the apiserver refused or failed (a 409
// Conflict says two writers raced), by kind and status.
func (t *tally) answered(r *http.Request, status int) {
	if status < 400 {
		return
	}
	_, kind := requestKind(r.Method, r.URL, r.Header.Get("Content-Type"))
	t.mu.Lock()
	t.kinds[kind+" → "+http.StatusText(status)]++
	t.mu.Unlock()
}

// snapshot is what was counted so far.
func (t *tally) snapshot() counts {
	var c counts
	for i := range c.byClass {
		c.byClass[i] = t.byClass[i].Load()
	}
	t.mu.Lock()
	c.kinds = maps.Clone(t.kinds)
	t.mu.Unlock()
	return c
}

// lastMutationTime is when the last mutating request arrived; zero before
// the first.
func (t *tally) lastMutationTime() time.Time {
	if n := t.lastMutation.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// counts are the requests counted in some window.
type counts struct {
	byClass [numClasses]int64
	kinds   map[string]int64
}

// since is what was counted between before and c.
func (c counts) since(before counts) counts {
	out := counts{kinds: map[string]int64{}}
	for i := range c.byClass {
		out.byClass[i] = c.byClass[i] - before.byClass[i]
	}
	for k, v := range c.kinds {
		if d := v - before.kinds[k]; d != 0 {
			out.kinds[k] = d
		}
	}
	return out
}

func (c counts) of(cl class) int64 { return c.byClass[cl] }

// mutating is every request that changes something (or asks a review).
func (c counts) mutating() int64 {
	return c.of(classEvent) + c.of(classReview) + c.of(classWrite)
}

// total is every request.
func (c counts) total() int64 {
	var n int64
	for _, v := range c.byClass {
		n += v
	}
	return n
}

// Package countingproxy stands between one client (the operator, or the
// benchmark's floor) and the apiserver and counts every request that client
// sends, by class (a write, a GET, a WATCH…) and by kind (the verb and the
// path), so that what the operator asks is attributed exactly, whatever else
// talks to the apiserver at the time. The benchmark (test/bench) reports
// these counts; the end-to-end tests assert on them.
package countingproxy

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
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/cert"
)

// Options say how the proxy names the kinds of request it counts.
type Options struct {
	// Anonymous is true for a name in a request's path that is one of many
	// alike, a team's or its namespace's: such names are counted under a
	// placeholder ("{team-ns}", "{name}"), so that a thousand teams'
	// requests add up to a few kinds. Nil keeps every name, so that each
	// request says whose object it was about.
	Anonymous func(name string) bool
}

// Proxy is a counting proxy to one apiserver.
//
// It serves TLS, and so HTTP/2, like the apiserver: over plain HTTP client-go
// would speak HTTP/1.1, one connection per watch, and the operator, which
// watches the Secrets of each team namespace on its own, would hold a
// thousand connections (and their memory) at a thousand teams where in a pod
// it multiplexes them on one.
type Proxy struct {
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

// Start starts a proxy to the apiserver of upstream (only its address and
// CA are used: each request keeps the credentials its client sent). Close
// it when done.
func Start(upstream *rest.Config, opts Options) (*Proxy, error) {
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
	t := newTally(opts.Anonymous)
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
	p := &Proxy{url: "https://" + listener.Addr().String(), ca: certPEM, tally: t}
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

// ClientConfig is cfg, a token-authenticated configuration, pointed at the
// proxy. A client certificate would not reach the apiserver through it.
func (p *Proxy) ClientConfig(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Host = p.url
	out.TLSClientConfig = rest.TLSClientConfig{CAData: p.ca}
	return out
}

// Close stops the proxy, ending the watches still open through it.
func (p *Proxy) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.server.Shutdown(ctx); err != nil {
		// Open watches do not end on their own.
		_ = p.server.Close()
	}
}

// Snapshot is what was counted so far; Counts.Since takes one from another.
func (p *Proxy) Snapshot() Counts {
	return p.tally.snapshot()
}

// LastMutation is when the last mutating request (see Class.Mutating)
// arrived; zero before the first. A client that has sent none for a while
// is settled.
func (p *Proxy) LastMutation() time.Time {
	if n := p.tally.lastMutation.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// tally counts requests by class, and by kind for the report of where they
// go. The classes are atomic counters; the kinds a map behind a lock.
type tally struct {
	anonymous func(string) bool
	byClass   [numClasses]atomic.Int64
	// lastMutation is when the last mutating request arrived, in Unix
	// nanoseconds.
	lastMutation atomic.Int64

	mu    sync.Mutex
	kinds map[string]kindCount
}

// kindCount is how many requests of one kind were counted, and their class.
type kindCount struct {
	class Class
	n     int64
}

func newTally(anonymous func(string) bool) *tally {
	return &tally{anonymous: anonymous, kinds: map[string]kindCount{}}
}

func (t *tally) count(r *http.Request) {
	c, kind := requestKind(r.Method, r.URL, r.Header.Get("Content-Type"), t.anonymous)
	t.byClass[c].Add(1)
	if c.Mutating() {
		t.lastMutation.Store(time.Now().UnixNano())
	}
	t.add(c, kind)
}

// answered counts the requests the apiserver refused or failed (a 409
// Conflict says two writers raced), by kind and status.
func (t *tally) answered(r *http.Request, status int) {
	if status < 400 {
		return
	}
	c, kind := requestKind(r.Method, r.URL, r.Header.Get("Content-Type"), t.anonymous)
	t.add(c, kind+" → "+http.StatusText(status))
}

func (t *tally) add(c Class, kind string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.kinds[kind]
	k.class = c
	k.n++
	t.kinds[kind] = k
}

func (t *tally) snapshot() Counts {
	var c Counts
	for i := range c.byClass {
		c.byClass[i] = t.byClass[i].Load()
	}
	t.mu.Lock()
	c.kinds = maps.Clone(t.kinds)
	t.mu.Unlock()
	return c
}

// Counts are the requests counted in some window: since the proxy started
// (Proxy.Snapshot) or between two snapshots (Since).
type Counts struct {
	byClass [numClasses]int64
	kinds   map[string]kindCount
}

// Since is what was counted between before and c.
func (c Counts) Since(before Counts) Counts {
	out := Counts{kinds: map[string]kindCount{}}
	for i := range c.byClass {
		out.byClass[i] = c.byClass[i] - before.byClass[i]
	}
	for k, v := range c.kinds {
		if d := v.n - before.kinds[k].n; d != 0 {
			out.kinds[k] = kindCount{class: v.class, n: d}
		}
	}
	return out
}

// Of is the requests of one class.
func (c Counts) Of(class Class) int64 { return c.byClass[class] }

// Mutating is every request that changes something (or asks a review).
func (c Counts) Mutating() int64 {
	var n int64
	for class, v := range c.byClass {
		if Class(class).Mutating() {
			n += v
		}
	}
	return n
}

// Total is every request.
func (c Counts) Total() int64 {
	var n int64
	for _, v := range c.byClass {
		n += v
	}
	return n
}

// Kinds are the requests by kind ("PATCH(apply) /api/v1/namespaces/{name}"),
// of the given classes or, with none given, of all. A request the apiserver
// refused is counted under its kind and again under its kind with the
// status ("PUT /api/v1/… → Conflict").
func (c Counts) Kinds(classes ...Class) map[string]int64 {
	out := map[string]int64{}
	for k, v := range c.kinds {
		if len(classes) == 0 || slices.Contains(classes, v.class) {
			out[k] = v.n
		}
	}
	return out
}

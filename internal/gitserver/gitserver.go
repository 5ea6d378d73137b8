// Package gitserver serves git repositories over smart HTTP from the test
// process, as a git host does, with git's own http-backend: what Flux's
// source-controller clones in the GitOps e2e. Each repository is bare on
// disk and has a work tree the test commits to and pushes from.
package gitserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi" //nolint:gosec // httpoxy concerns Go before 1.6.3; this serves git to the tests on 127.0.0.1
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// gitTimeout bounds every git command.
const gitTimeout = time.Minute

// Server serves the bare repositories under its directory at URL.
type Server struct {
	// URL is where the repositories are: URL + "/" + name + ".git".
	URL string
	dir string
	srv *http.Server
}

// Start serves the repositories under dir on 127.0.0.1, on a free port.
func Start(dir string) (*Server, error) {
	out, err := git(context.Background(), "", "--exec-path")
	if err != nil {
		return nil, fmt.Errorf("git is needed to serve repositories to Flux (apt-get install git): %w", err)
	}
	backend := filepath.Join(strings.TrimSpace(out), "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		return nil, fmt.Errorf("git's http-backend is not where git says: %w", err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + listener.Addr().String(), dir: dir}
	s.srv = &http.Server{
		Handler: &cgi.Handler{Path: backend, Env: []string{
			"GIT_PROJECT_ROOT=" + dir, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + dir,
		}},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = s.srv.Serve(listener) }()
	return s, nil
}

// Close stops serving.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// Repo is a repository the server serves, with a work tree to commit to.
type Repo struct {
	// URL is where it is served.
	URL  string
	work string
}

// NewRepo makes an empty repository name.git, with branch main.
func (s *Server) NewRepo(name string) (*Repo, error) {
	ctx := context.Background()
	bare := filepath.Join(s.dir, name+".git")
	work := filepath.Join(s.dir, name+".work")
	for _, args := range [][]string{
		{"init", "--quiet", "--bare", "--initial-branch=main", bare},
		{"init", "--quiet", "--initial-branch=main", work},
		{"-C", work, "remote", "add", "origin", bare},
	} {
		if _, err := git(ctx, "", args...); err != nil {
			return nil, err
		}
	}
	return &Repo{URL: s.URL + "/" + name + ".git", work: work}, nil
}

// Dir is the repository's work tree.
func (r *Repo) Dir() string { return r.work }

// Commit commits everything in the work tree and pushes it; it returns the
// commit's hash.
func (r *Repo) Commit(message string) (string, error) {
	ctx := context.Background()
	for _, args := range [][]string{
		{"add", "--all"},
		{"-c", "user.name=buurt e2e", "-c", "user.email=e2e@buurt.dev", "commit", "--quiet", "--allow-empty", "-m", message},
		{"push", "--quiet", "origin", "main"},
	} {
		if _, err := git(ctx, r.work, args...); err != nil {
			return "", err
		}
	}
	out, err := git(ctx, r.work, "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

// git runs git in dir with a deadline, and says what it printed when it
// fails.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, gitTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...) //nolint:gosec // git, with the arguments of this package
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return "", fmt.Errorf("git %s took more than %s", strings.Join(args, " "), gitTimeout)
		}
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

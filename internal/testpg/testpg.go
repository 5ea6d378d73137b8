// Package testpg starts a throwaway PostgreSQL server for tests: initdb in a
// temporary directory, a free port on 127.0.0.1, SCRAM authentication, and
// everything removed on Stop; and one kept between runs for `make dev`. It uses Debian's PostgreSQL packages
// (/usr/lib/postgresql/<version>/bin, or BUURT_PG_BINDIR); as root it runs
// the server as the postgres OS user, since PostgreSQL refuses to run as root.
package testpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/buurt-dev/buurt/internal/freeport"
)

// ErrNoPostgres says how to get PostgreSQL when it is missing.
var ErrNoPostgres = errors.New("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: " +
	"install them with `apt-get install -y postgresql` (.ci/run does), or set BUURT_PG_BINDIR")

// AdminUser is the superuser of the throwaway server.
const AdminUser = "buurt_admin"

// Server is a running throwaway PostgreSQL server.
type Server struct {
	// Host and Port are where it listens.
	Host string
	Port int
	// Password is AdminUser's password.
	Password string

	dir    string
	bin    string
	cred   *syscall.Credential
	cmd    *exec.Cmd
	paused bool
}

// Start initialises and starts a new server.
func Start(ctx context.Context) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "buurt-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", Password: "throwaway-" + strconv.FormatInt(time.Now().UnixNano(), 36), dir: dir}
	cred, err := credential(dir)
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	if err := initialise(ctx, bin, dir, s.Password, cred); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	if s.Port, err = freeport.Get(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	s.bin, s.cred = bin, cred
	if err := s.Restart(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// initialise makes a new cluster in dir/data whose AdminUser has password.
func initialise(ctx context.Context, bin, dir, password string, cred *syscall.Credential) error {
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password), 0o600); err != nil {
		return err
	}
	defer func() { _ = os.Remove(pwfile) }()
	if cred != nil {
		if err := os.Chown(pwfile, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"), "-U", AdminUser,
		"--pwfile", pwfile, "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb failed: %w\n%s", err, out)
	}
	return nil
}

// serverFlags are the settings every server here runs with: only on
// 127.0.0.1 and a socket in dir, and fast rather than durable.
func serverFlags(dir string, port int) []string {
	return []string{"-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=" + dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		// Every CREATE and ALTER ROLE is in the log (Log), so that a test can
		// show no password reaches it: buurt sends SCRAM verifiers.
		"-c", "log_statement=ddl"}
}

// Log is what the server has logged so far.
func (s *Server) Log() (string, error) {
	log, err := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
	return string(log), err
}

// Restart starts the server (again, after Halt) on the same port and data.
func (s *Server) Restart(ctx context.Context) error {
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), append([]string{"-D", filepath.Join(s.dir, "data")}, serverFlags(s.dir, s.Port)...)...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	logFile, err := os.OpenFile(filepath.Join(s.dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("failed to start postgres: %w", err)
	}
	if err := s.waitReady(ctx); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "postgres.log"))
		return fmt.Errorf("%w\n%s", err, log)
	}
	return nil
}

// URI is a connection URI for user with password to database.
func (s *Server) URI(user, password, database string) string {
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", user, password, s.Host, s.Port, database)
}

// Connect connects as the superuser to the postgres database.
func (s *Server) Connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, s.URI(AdminUser, s.Password, "postgres"))
}

// Stop stops the server and removes its files.
func (s *Server) Stop() error {
	s.Halt()
	return os.RemoveAll(s.dir)
}

// Pause freezes the server with its connections open, the way a server that
// hangs looks to its clients: the kernel still accepts connections, nothing
// answers. Resume thaws it.
func (s *Server) Pause() error {
	if err := s.signalAll(syscall.SIGSTOP); err != nil {
		return fmt.Errorf("failed to pause postgres: %w", err)
	}
	s.paused = true
	return nil
}

// Resume thaws a paused server; on one that is not paused it does nothing.
func (s *Server) Resume() error {
	if !s.paused {
		return nil
	}
	if err := s.signalAll(syscall.SIGCONT); err != nil {
		return fmt.Errorf("failed to resume postgres: %w", err)
	}
	s.paused = false
	return nil
}

// signalAll signals the postmaster and then each of its children. Its
// process group is not enough: every backend calls setsid(), so a stopped
// group leaves open connections answering. A postmaster stopped first
// starts no backend that the list would miss.
func (s *Server) signalAll(sig syscall.Signal) error {
	if s.cmd == nil || s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return errors.New("postgres is not running")
	}
	if err := syscall.Kill(s.cmd.Process.Pid, sig); err != nil {
		return err
	}
	children, err := children(s.cmd.Process.Pid)
	if err != nil {
		return err
	}
	for _, pid := range children {
		// A backend that ended since the list was made is no error.
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
	}
	return nil
}

// children are the processes whose parent is pid, from /proc.
func children(pid int) ([]int, error) {
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		return nil, err
	}
	parent := strconv.Itoa(pid)
	var found []int
	for _, stat := range stats {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue // ended since the glob
		}
		// "pid (comm) state ppid ...", where comm may hold spaces and
		// parentheses.
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(fields) > 1 && fields[1] == parent {
			child, err := strconv.Atoi(filepath.Base(filepath.Dir(stat)))
			if err != nil {
				return nil, err
			}
			found = append(found, child)
		}
	}
	return found, nil
}

// Halt stops the server and keeps its files, for Restart. A paused server is
// resumed first: a stopped one would never shut down.
func (s *Server) Halt() {
	_ = s.Resume()
	if s.cmd != nil && s.cmd.Process != nil && s.cmd.ProcessState == nil {
		// SIGINT is PostgreSQL's fast shutdown.
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := s.Connect(ctx)
		if err == nil {
			return conn.Close(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 30s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// binDir finds the newest installed PostgreSQL's server binaries.
func binDir() (string, error) {
	if dir := os.Getenv("BUURT_PG_BINDIR"); dir != "" {
		return dir, nil
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(found) == 0 {
		return "", ErrNoPostgres
	}
	slices.SortFunc(found, func(a, b string) int { return version(a) - version(b) })
	return filepath.Dir(found[len(found)-1]), nil
}

func version(postgresPath string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(postgresPath))))
	return v
}

// credential is the postgres OS user when running as root (PostgreSQL will
// not run as root), after handing it dir; nil otherwise.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres OS user (from Debian's postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil //nolint:gosec // uids from /etc/passwd fit
}

// StartPersistent starts the server kept in dir, making it on first use, for
// `make dev`: pg_ctl detaches it, so it outlives this process, and a server
// already running there is reused. StopPersistent ends it.
func StartPersistent(ctx context.Context, dir string) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", dir: dir, bin: bin, cred: cred}
	settings := filepath.Join(dir, "buurt-dev")
	if data, err := os.ReadFile(settings); err == nil {
		if _, err := fmt.Sscanf(string(data), "%d %s", &s.Port, &s.Password); err != nil {
			return nil, fmt.Errorf("unreadable %s; remove %s to start afresh: %w", settings, dir, err)
		}
	} else {
		s.Password = "dev-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := initialise(ctx, bin, dir, s.Password, cred); err != nil {
			return nil, err
		}
		if s.Port, err = freeport.Get(); err != nil {
			return nil, err
		}
		if err := os.WriteFile(settings, fmt.Appendf(nil, "%d %s\n", s.Port, s.Password), 0o600); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	status := exec.CommandContext(ctx, filepath.Join(bin, "pg_ctl"), "status", "-D", data)
	status.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if status.Run() == nil {
		return s, nil
	}
	start := exec.CommandContext(ctx, filepath.Join(bin, "pg_ctl"), "start", "-D", data, "-w", "-t", "60",
		"-l", filepath.Join(dir, "postgres.log"), "-o", strings.Join(serverFlags(dir, s.Port), " "))
	start.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setsid: true}
	if out, err := start.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		return nil, fmt.Errorf("pg_ctl start failed: %w\n%s\n%s", err, out, log)
	}
	return s, nil
}

// StopPersistent stops the server StartPersistent runs in dir, if it runs,
// and removes dir.
func StopPersistent(ctx context.Context, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		bin, err := binDir()
		if err != nil {
			return err
		}
		stop := exec.CommandContext(ctx, filepath.Join(bin, "pg_ctl"), "stop", "-D", filepath.Join(dir, "data"), "-m", "fast")
		cred, err := credential(dir)
		if err != nil {
			return err
		}
		stop.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		_ = stop.Run() // not running is fine
	}
	return os.RemoveAll(dir)
}

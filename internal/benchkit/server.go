// Package benchkit is what cmd/bench and cmd/load share: the real
// `recoverydesk serve` run as child processes, and HTTP clients that act as
// applicants and reviewers do, each from its own loopback address.
package benchkit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
)

// Server is `recoverydesk serve` running as a child process, so its peak
// resident memory (VmHWM) is its own and not the caller's.
type Server struct {
	cmd  *exec.Cmd
	Base string // http://127.0.0.1:port
	log  *os.File
	done chan struct{}
}

// StartServer runs bin serve with env plus a free RD_ADDR, logging to
// dir/server.log, and waits for /readyz.
func StartServer(ctx context.Context, bin, dir string, env []string) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(append(os.Environ(), env...), "RD_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{cmd: cmd, Base: "http://" + addr, log: logf, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return nil, fmt.Errorf("the server exited at start; see %s", logf.Name())
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(s.Base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
	}
	s.Stop()
	return nil, fmt.Errorf("the server was not ready within 90 s; see %s", logf.Name())
}

// Stop ends the server gracefully (SIGTERM), killing it after 15 s.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

// Memory reads a VmXXX line (in kB) of the server's /proc status.
func (s *Server) Memory(field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, s.cmd.Process.Pid)
}

// ResetPeak resets VmHWM to the current RSS (Linux clear_refs 5), so the
// next reading is the peak of what follows.
func (s *Server) ResetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0o200)
}

// FreePort returns a loopback port free at the moment.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartServers starts n servers on the same database and object store, one
// after the other (each migrates; the first does the work).
func StartServers(ctx context.Context, bin, dir string, env []string, n int) ([]*Server, error) {
	var srvs []*Server
	for range max(n, 1) {
		srv, err := StartServer(ctx, bin, dir, env)
		if err != nil {
			StopServers(srvs)
			return nil, err
		}
		srvs = append(srvs, srv)
	}
	return srvs, nil
}

// StopServers stops every server.
func StopServers(srvs []*Server) {
	for _, s := range srvs {
		s.Stop()
	}
}

// Bases are the servers' addresses.
func Bases(srvs []*Server) []string {
	out := make([]string, len(srvs))
	for i, s := range srvs {
		out[i] = s.Base
	}
	return out
}

// FreshPostgres drops and creates the database u names (connecting to the
// server's "postgres" database to do so): a bench or load run owns it.
func FreshPostgres(ctx context.Context, u *url.URL) error {
	name := strings.TrimPrefix(u.Path, "/")
	if !regexp.MustCompile(`^[a-z_][a-z0-9_]*$`).MatchString(name) {
		return fmt.Errorf("database name %q: want lower-case letters, digits and _", name)
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// Pid is the server process's id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// OpenDB opens the database at dbURL (RD_DATABASE_URL's form) and brings
// its schema up to date, as serve would.
func OpenDB(ctx context.Context, dbURL, dataDir string) (*db.DB, error) {
	cfg, err := config.Load(config.FromMap(map[string]string{"RD_DATABASE_URL": dbURL, "RD_DATA_DIR": dataDir}))
	if err != nil {
		return nil, err
	}
	d, err := db.Open(ctx, cfg.DBKind, cfg.DSN)
	if err != nil {
		return nil, err
	}
	if err := d.Migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// MaxMemory is the largest VmXXX reading (kB) over the servers.
func MaxMemory(srvs []*Server, field string) (int64, error) {
	var most int64
	for _, s := range srvs {
		kb, err := s.Memory(field)
		if err != nil {
			return 0, err
		}
		most = max(most, kb)
	}
	return most, nil
}

// clockTicks is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// ProcessCPU is the CPU time (user + system) process pid has used so far,
// read from /proc/PID/stat.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it are
	// counted from its closing parenthesis. utime and stime are fields 14, 15.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// MachineCPU is the CPU time every core of the machine has spent busy
// (everything but idle and iowait) and in all, from /proc/stat: two readings
// give how busy the machine was between them, whoever kept it busy.
func MachineCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected /proc/stat")
	}
	var all, idle int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse /proc/stat: %w", err)
		}
		if i < 8 { // user nice system idle iowait irq softirq steal (guest is in user)
			all += n
		}
		if i == 3 || i == 4 {
			idle += n
		}
	}
	return time.Duration(all-idle) * time.Second / clockTicks, time.Duration(all) * time.Second / clockTicks, nil
}

// LoadAverage is the first field of /proc/loadavg (the 1-minute load).
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

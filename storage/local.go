package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Defaults and limits of the local server's life cycle.
const (
	defaultStartTimeout = 30 * time.Second
	stopGrace           = 5 * time.Second
	startAttempts       = 3 // a free port can be taken between our probe and MinIO's bind
	readyPollInterval   = 100 * time.Millisecond
	readyPath           = "/minio/health/cluster" // 200 only once S3 requests are served
)

// Layout of LocalOptions.DataDir.
const (
	dataSubdir      = "data"             // MinIO's export directory
	credentialsFile = "credentials.json" // root credentials, 0600
	logFile         = "minio.log"        // the server's output
)

// LocalOptions configure StartLocal.
type LocalOptions struct {
	// Binary is the MinIO server executable; empty means FindBinary().
	Binary string
	// DataDir holds everything of this server: the objects (DataDir/data),
	// the generated credentials and the server's log. Typically
	// $RD_DATA_DIR/minio.
	DataDir string
	// Logger receives the server's output at debug level; nil discards it
	// (it is always written to DataDir/minio.log too).
	Logger *slog.Logger
	// StartTimeout bounds the wait for the server to become ready; zero
	// means 30 seconds.
	StartTimeout time.Duration
}

// LocalServer is a MinIO server process started by StartLocal. Its fields
// are what a client needs to connect.
type LocalServer struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string

	cmd      *exec.Cmd
	log      *serverLog
	exited   chan struct{} // closed once the process has been reaped
	stopOnce sync.Once
	stopErr  error
}

// StartLocal starts a private MinIO server on a free loopback port with its
// data under opts.DataDir and waits until it serves requests. The root
// credentials are generated on the first start and kept in DataDir, because
// MinIO refuses to open existing data with different ones. The server runs
// in its own process group and is killed by the kernel if this process dies
// (Pdeathsig), so it cannot outlive us; Stop ends it gracefully. ctx bounds
// the start only, not the server's life.
func StartLocal(ctx context.Context, opts LocalOptions) (*LocalServer, error) {
	opts, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(opts.DataDir, dataSubdir), 0o700); err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	creds, err := loadOrCreateCredentials(filepath.Join(opts.DataDir, credentialsFile))
	if err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	for attempt := 1; ; attempt++ {
		srv, err := launch(ctx, opts, creds)
		if err == nil || attempt == startAttempts || !errors.Is(err, errPortTaken) {
			return srv, err
		}
	}
}

// resolve fills in defaults and checks that the binary is there.
func (o LocalOptions) resolve() (LocalOptions, error) {
	if o.DataDir == "" {
		return o, errors.New("start minio: DataDir is required")
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return o, fmt.Errorf("start minio: %w", err)
	}
	o.DataDir = dir
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.Binary == "" {
		bin, err := FindBinary()
		if err != nil {
			return o, err
		}
		o.Binary = bin
	}
	if err := checkExecutable(o.Binary); err != nil {
		return o, err
	}
	return o, nil
}

// checkExecutable fails with ErrNoBinary unless path is an executable file.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%w: %s", ErrNoBinary, path)
	}
	return nil
}

// errPortTaken marks a start that failed because a port we picked was taken.
var errPortTaken = errors.New("port already in use")

// launch runs one attempt: pick ports, spawn, wait until ready.
func launch(ctx context.Context, opts LocalOptions, creds rootCredentials) (*LocalServer, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	consoleAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
	log, err := openServerLog(filepath.Join(opts.DataDir, logFile), opts.Logger)
	if err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	cmd := exec.Command(opts.Binary, "server", filepath.Join(opts.DataDir, dataSubdir),
		"--address", addr, "--console-address", consoleAddr)
	cmd.Env = serverEnv(creds)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start minio %s: %w", opts.Binary, err)
	}
	srv := &LocalServer{Endpoint: addr, AccessKey: creds.AccessKey, SecretKey: creds.SecretKey,
		cmd: cmd, log: log, exited: make(chan struct{})}
	go srv.reap()
	opts.Logger.Debug("minio starting", "pid", cmd.Process.Pid, "addr", addr, "data", opts.DataDir)
	if err := srv.waitReady(ctx, opts.StartTimeout); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	opts.Logger.Info("minio ready", "addr", addr, "pid", cmd.Process.Pid)
	return srv, nil
}

// reap waits for the process to end and releases its log.
func (s *LocalServer) reap() {
	_ = s.cmd.Wait()
	s.log.Close()
	close(s.exited)
}

// waitReady polls the health endpoint until it answers 200, the process
// exits, ctx ends or the timeout passes; failures carry the output's tail.
func (s *LocalServer) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	url := "http://" + s.Endpoint + readyPath
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		if healthy(ctx, client, url) {
			return nil
		}
		select {
		case <-s.exited:
			return s.startFailure("exited during start-up")
		case <-ctx.Done():
			return s.startFailure(fmt.Sprintf("not ready within %s (%v)", timeout, context.Cause(ctx)))
		case <-tick.C:
		}
	}
}

// startFailure builds the error for a server that did not come up.
func (s *LocalServer) startFailure(what string) error {
	tail := s.log.Tail()
	err := fmt.Errorf("start minio: server %s; its last output:\n%s", what, tail)
	if strings.Contains(tail, "address already in use") {
		err = fmt.Errorf("%w (%w)", err, errPortTaken)
	}
	return err
}

// healthy reports whether one GET of url answers 200.
func healthy(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop ends the server: SIGTERM to its process group, then SIGKILL if it is
// still there after five seconds. It returns once the process is gone and
// may be called any number of times.
func (s *LocalServer) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

// stop does the work of Stop once.
func (s *LocalServer) stop() error {
	pgid := s.cmd.Process.Pid // Setpgid: the group id is the leader's pid
	if err := signalGroup(pgid, syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopGrace):
	}
	if err := signalGroup(pgid, syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(stopGrace):
		return fmt.Errorf("stop minio: process %d still running after SIGKILL", pgid)
	}
}

// signalGroup sends sig to a process group; a group already gone is fine.
func signalGroup(pgid int, sig syscall.Signal) error {
	err := syscall.Kill(-pgid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop minio: signal %v to group %d: %w", sig, pgid, err)
	}
	return nil
}

// PID returns the server's process id (also its process group id).
func (s *LocalServer) PID() int { return s.cmd.Process.Pid }

// Done is closed when the server process has exited, whether through Stop
// or on its own, so a supervisor can notice a crash.
func (s *LocalServer) Done() <-chan struct{} { return s.exited }

// Config returns the Store configuration that reaches this server.
func (s *LocalServer) Config(bucket string) Config {
	return Config{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Bucket: bucket}
}

// freePorts returns n distinct loopback ports that were free a moment ago;
// all listeners are held until every port is known so none repeats.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// serverEnv is our environment without any MINIO_* setting that could
// change the server's behaviour, plus the settings of a private server.
func serverEnv(c rootCredentials) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"MINIO_ROOT_USER="+c.AccessKey,
		"MINIO_ROOT_PASSWORD="+c.SecretKey,
		"MINIO_BROWSER=off", // no web console
		"MINIO_UPDATE=off",  // never look for updates
		"MINIO_CI_CD=on",    // small buffers, accepts a data dir on the root disk
	)
}

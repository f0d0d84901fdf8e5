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
	credentialsFile = "credentials.json" // root credentials, 0600 (and kms.key, the KMS key, 0600)
	logFile         = "minio.log"        // the server's output
	endpointFile    = "endpoint"         // host:port of the running server, for Attach
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

// LocalServer is a supervised MinIO server started by StartLocal. Its
// fields are what a client needs to connect; they stay the same across
// restarts.
type LocalServer struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string

	opts        LocalOptions
	creds       rootCredentials
	consoleAddr string

	mu       sync.Mutex
	proc     *process // the current process; replaced by each restart
	restarts int

	quit      context.Context // ended by Stop: no more restarts
	quitNow   context.CancelFunc
	supervise chan struct{} // closed when the supervisor has returned
	done      chan struct{} // closed when Stop has ended the server
	stopOnce  sync.Once
	stopErr   error
	attached  bool // found running by AttachOrStartLocal: not ours to stop
}

// process is one run of the MinIO server binary.
type process struct {
	cmd    *exec.Cmd
	log    *serverLog
	exited chan struct{} // closed once the process has been reaped
}

// Restart back-off of the supervisor: the first restart follows a crash
// after a short pause, each failed attempt doubles the pause up to the cap,
// and a server that stayed up for stableAfter starts over at the shortest.
const (
	restartMinBackoff = 200 * time.Millisecond
	restartMaxBackoff = 5 * time.Second
	stableAfter       = 30 * time.Second
)

// StartLocal starts a private MinIO server on a free loopback port with its
// data under opts.DataDir and waits until it serves requests. The root
// credentials are generated on the first start and kept in DataDir, because
// MinIO refuses to open existing data with different ones. The server runs
// in its own process group and is killed by the kernel if this process dies
// (Pdeathsig), so it cannot outlive us; Stop ends it gracefully. ctx bounds
// the start only, not the server's life.
//
// Once started, the server is supervised: if its process exits for any
// reason but Stop (a crash, kill -9), it is started again on the same
// address with the same credentials and data, with back-off between failed
// attempts, until Stop. Meanwhile calls to it fail (ErrUnavailable), and
// /readyz reports it down.
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
	if creds.kmsKey, err = loadOrCreateKMSKey(filepath.Join(opts.DataDir, kmsKeyFile)); err != nil {
		return nil, fmt.Errorf("start minio: %w", err)
	}
	for attempt := 1; ; attempt++ {
		ports, err := freePorts(2)
		if err != nil {
			return nil, fmt.Errorf("start minio: %w", err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		consoleAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
		p, err := launch(ctx, opts, creds, addr, consoleAddr)
		if err != nil {
			if attempt < startAttempts && errors.Is(err, errPortTaken) {
				continue
			}
			return nil, err
		}
		quit, quitNow := context.WithCancel(context.Background())
		srv := &LocalServer{Endpoint: addr, AccessKey: creds.AccessKey, SecretKey: creds.SecretKey,
			opts: opts, creds: creds, consoleAddr: consoleAddr, proc: p,
			quit: quit, quitNow: quitNow, supervise: make(chan struct{}), done: make(chan struct{})}
		go srv.superviseLoop()
		// Commands run beside serve (purge, audit anchor) find the server
		// here instead of starting a second one on the same data.
		_ = os.WriteFile(filepath.Join(opts.DataDir, endpointFile), []byte(addr+"\n"), 0o600)
		return srv, nil
	}
}

// AttachOrStartLocal connects to the server already running on
// opts.DataDir (started by serve; its address is kept in DataDir/endpoint)
// or, when none answers, starts one like StartLocal. A command that runs
// while serve does must not start a second server on the same data. Stop
// on an attached server does nothing: the server belongs to its starter.
func AttachOrStartLocal(ctx context.Context, opts LocalOptions) (*LocalServer, error) {
	dir, err := filepath.Abs(opts.DataDir)
	if err == nil && opts.DataDir != "" {
		addr, rerr := os.ReadFile(filepath.Join(dir, endpointFile))
		creds, cerr := readCredentials(filepath.Join(dir, credentialsFile))
		endpoint := strings.TrimSpace(string(addr))
		if rerr == nil && cerr == nil && endpoint != "" &&
			healthy(ctx, &http.Client{Timeout: time.Second}, "http://"+endpoint+readyPath) {
			done := make(chan struct{})
			close(done)
			return &LocalServer{Endpoint: endpoint, AccessKey: creds.AccessKey, SecretKey: creds.SecretKey,
				attached: true, done: done}, nil
		}
	}
	return StartLocal(ctx, opts)
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

// launch runs the server once on the given addresses and waits until it is
// ready; on failure the process is gone when launch returns.
func launch(ctx context.Context, opts LocalOptions, creds rootCredentials, addr, consoleAddr string) (*process, error) {
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
	p := &process{cmd: cmd, log: log, exited: make(chan struct{})}
	go p.reap()
	opts.Logger.Debug("minio starting", "pid", cmd.Process.Pid, "addr", addr, "data", opts.DataDir)
	if err := p.waitReady(ctx, addr, opts.StartTimeout); err != nil {
		_ = p.stop()
		return nil, err
	}
	opts.Logger.Info("minio ready", "addr", addr, "pid", cmd.Process.Pid)
	return p, nil
}

// reap waits for the process to end and releases its log.
func (p *process) reap() {
	_ = p.cmd.Wait()
	p.log.Close()
	close(p.exited)
}

// waitReady polls the health endpoint until it answers 200, the process
// exits, ctx ends or the timeout passes; failures carry the output's tail.
func (p *process) waitReady(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	url := "http://" + addr + readyPath
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		if healthy(ctx, client, url) {
			return nil
		}
		select {
		case <-p.exited:
			return p.startFailure("exited during start-up")
		case <-ctx.Done():
			return p.startFailure(fmt.Sprintf("not ready within %s (%v)", timeout, context.Cause(ctx)))
		case <-tick.C:
		}
	}
}

// startFailure builds the error for a server that did not come up.
func (p *process) startFailure(what string) error {
	tail := p.log.Tail()
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

// superviseLoop restarts the server whenever its process exits before
// Stop, on the same address, credentials and data, with back-off.
func (s *LocalServer) superviseLoop() {
	defer close(s.supervise)
	log := s.opts.Logger
	backoff := restartMinBackoff
	for {
		p := s.current()
		up := time.Now()
		select {
		case <-s.quit.Done():
			return
		case <-p.exited:
		}
		if time.Since(up) >= stableAfter {
			backoff = restartMinBackoff
		}
		log.Error("minio exited; restarting it", "pid", p.cmd.Process.Pid, "state", p.cmd.ProcessState.String(),
			"output", lastLine(p.log.Tail()))
		for {
			select {
			case <-s.quit.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, restartMaxBackoff)
			np, err := launch(s.quit, s.opts, s.creds, s.Endpoint, s.consoleAddr)
			if err != nil {
				if s.quit.Err() != nil {
					return
				}
				log.Error("restart minio failed; trying again", "err", err, "retry_in", backoff)
				continue
			}
			s.mu.Lock()
			s.proc = np
			s.restarts++
			n := s.restarts
			s.mu.Unlock()
			log.Warn("minio restarted", "pid", np.cmd.Process.Pid, "addr", s.Endpoint, "restarts", n)
			break
		}
	}
}

// lastLine is the last line of a process's output, for a one-line log.
func lastLine(out string) string {
	if i := strings.LastIndexByte(out, '\n'); i >= 0 {
		return out[i+1:]
	}
	return out
}

// current returns the current process.
func (s *LocalServer) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// Stop ends the server for good: no restart follows. It sends SIGTERM to
// the process group, then SIGKILL if it is still there after five seconds,
// and returns once the process is gone. It may be called any number of
// times.
func (s *LocalServer) Stop() error {
	if s.attached {
		return nil
	}
	s.stopOnce.Do(func() {
		s.quitNow()
		<-s.supervise // no restart can begin after this
		s.stopErr = s.current().stop()
		close(s.done)
	})
	return s.stopErr
}

// stop ends one process: SIGTERM to its group, SIGKILL after a grace.
func (p *process) stop() error {
	pgid := p.cmd.Process.Pid // Setpgid: the group id is the leader's pid
	if err := signalGroup(pgid, syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopGrace):
	}
	if err := signalGroup(pgid, syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-p.exited:
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

// PID returns the process id (also the process group id) of the server's
// current process; it changes when the supervisor restarts it.
func (s *LocalServer) PID() int { return s.current().cmd.Process.Pid }

// Restarts returns how many times the supervisor has restarted the server.
func (s *LocalServer) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Done is closed once Stop has ended the server for good. A crash does not
// close it: the supervisor restarts the server instead.
func (s *LocalServer) Done() <-chan struct{} { return s.done }

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
		// The KMS key behind SSE-S3: evidence is encrypted at rest.
		"MINIO_KMS_SECRET_KEY="+c.kmsKey,
	)
}

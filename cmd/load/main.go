// Command load runs a sustained mixed load against real recoverydesk
// servers and reports whether they hold: for a fixed time, simulated
// applicants register, open a password recovery, verify the SMS code,
// upload four images, submit and poll their status, while simulated
// reviewers read the queue, claim a case, view it and an image, and decide.
//
// It starts a bundled MinIO, a fresh PostgreSQL database (RD_LOAD_POSTGRES_URL
// or postgres://postgres@127.0.0.1:5432/recoverydesk_load, dropped and
// created afresh) or a SQLite file, and --instances servers (`recoverydesk
// serve`, dev mode for the SMS outbox, pull assignment) on them; every client
// sends each request to the next instance in turn. At the end every
// submitted case is looked up again (none may be lost) and each instance's
// peak resident memory is read from /proc/PID/status (VmHWM).
//
//	go run ./cmd/load            # 200 applicants, 20 reviewers, 3 minutes (make load)
//	go run ./cmd/load --quick    # 8 applicants, 2 reviewers, 20 seconds, 250 ms pauses (CI)
package main

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"recoverydesk/internal/benchkit"
	"recoverydesk/internal/demodata"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/rules"
	"recoverydesk/storage"
)

// options are the command line.
type options struct {
	applicants, reviewers, instances int
	hashConcurrency                  int
	duration, think                  time.Duration
	db, serverBin                    string
	keep                             bool
}

const (
	staffPassword     = "Load#2468go"
	applicantPassword = "Appl#2468go"
	defaultPostgres   = "postgres://postgres@127.0.0.1:5432/recoverydesk_load?sslmode=disable"
	// defaultThink is a person's mean pause between two steps. Real people
	// take longer — reading an SMS and typing its code, taking a photo,
	// looking at a case's evidence take 10–60 s — so 5 s (0–10 s) keeps
	// the load pessimistic; a run without pauses is a closed loop whose
	// queueing makes p99 grow with the number of simulated people whatever
	// the server does, which measures the loop rather than the server.
	defaultThink = 5 * time.Second
)

func main() {
	var o options
	quick := flag.Bool("quick", false, "8 applicants, 2 reviewers for 20 seconds, 250 ms pauses (CI)")
	flag.DurationVar(&o.think, "think", defaultThink, "mean pause of a simulated person between two steps (uniform in 0–2× the mean)")
	flag.IntVar(&o.applicants, "applicants", 200, "simulated applicants")
	flag.IntVar(&o.reviewers, "reviewers", 20, "simulated reviewers")
	flag.IntVar(&o.instances, "instances", 3, "servers on the one database and MinIO")
	flag.IntVar(&o.hashConcurrency, "hash-concurrency", 0, "RD_HASH_CONCURRENCY of each server (default: the cores shared out among the instances, at least 1)")
	flag.DurationVar(&o.duration, "duration", 3*time.Minute, "how long the load runs")
	flag.StringVar(&o.db, "db", "postgres", "postgres (RD_LOAD_POSTGRES_URL or "+defaultPostgres+", dropped and created afresh) or sqlite")
	flag.StringVar(&o.serverBin, "server", "", "the recoverydesk binary (default: build ./cmd/recoverydesk)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (MinIO data, server logs)")
	flag.Parse()
	if o.hashConcurrency < 1 {
		// The servers share this machine: RD_HASH_CONCURRENCY's default (the
		// cores) is for one instance per host, and three instances each
		// hashing on every core would hold three times the hashing memory
		// for no more throughput.
		o.hashConcurrency = max(1, runtime.NumCPU()/max(o.instances, 1))
	}
	if *quick {
		o.applicants, o.reviewers, o.duration, o.think = 8, 2, 20*time.Second, 250*time.Millisecond
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rep, err := run(ctx, o, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	fmt.Print(rep.markdown(o))
	// Missed latency or memory targets are reported, not fatal (the machine
	// may be shared); a lost case, or a run that submitted nothing, is a
	// failure of the product or of the load itself.
	if len(rep.lost) > 0 || len(rep.submitted) == 0 {
		os.Exit(1)
	}
}

// run sets everything up, runs the load and checks the cases afterwards.
func run(ctx context.Context, o options, logger *slog.Logger) (*stats, error) {
	dir, err := os.MkdirTemp("", "rd-load-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		logger.Info("keeping the load directory", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.serverBin
	if bin == "" {
		bin = filepath.Join(dir, "recoverydesk")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/recoverydesk")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build the server: %w", err)
		}
	}
	local, err := storage.StartLocal(ctx, storage.LocalOptions{DataDir: filepath.Join(dir, "minio")})
	if err != nil {
		return nil, fmt.Errorf("start MinIO: %w", err)
	}
	defer local.Stop()
	dbURL := "sqlite://" + filepath.Join(dir, "load.db")
	if o.db == "postgres" {
		dbURL = cmp.Or(os.Getenv("RD_LOAD_POSTGRES_URL"), defaultPostgres)
		u, err := url.Parse(dbURL)
		if err != nil {
			return nil, fmt.Errorf("RD_LOAD_POSTGRES_URL: %w", err)
		}
		if err := benchkit.FreshPostgres(ctx, u); err != nil {
			return nil, err
		}
	}
	d, err := benchkit.OpenDB(ctx, dbURL, filepath.Join(dir, "data"))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	hash, err := passhash.Hasher{Params: passhash.Production}.Hash(staffPassword)
	if err != nil {
		return nil, err
	}
	for i := range o.reviewers {
		if _, err := demodata.CreateStaff(ctx, d, fmt.Sprintf("load_rv%02d", i), "审核员", "reviewer", rules.ProvinceCode, hash); err != nil {
			return nil, err
		}
	}
	env := []string{"RD_DATABASE_URL=" + dbURL, "RD_DATA_DIR=" + filepath.Join(dir, "data"), "RD_S3_ENDPOINT=" + local.Endpoint,
		"RD_S3_ACCESS_KEY=" + local.AccessKey, "RD_S3_SECRET_KEY=" + local.SecretKey, "RD_S3_BUCKET=recoverydesk-evidence",
		"RD_SECRET_KEY=" + strings.Repeat("l", 32), "RD_DEV=1", "RD_DEV_FORCE=1", "RD_SMS_DRIVER=outbox", "RD_ASSIGNMENT=pull",
		fmt.Sprintf("RD_HASH_CONCURRENCY=%d", o.hashConcurrency)}
	srvs, err := benchkit.StartServers(ctx, bin, dir, env, o.instances)
	if err != nil {
		return nil, err
	}
	defer benchkit.StopServers(srvs)
	bases := benchkit.Bases(srvs)

	pics := newPhotos(photoCount(o))
	logger.Info("photos ready", "count", len(pics.list))
	st := newStats()
	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	logger.Info("load running", "applicants", o.applicants, "reviewers", o.reviewers, "instances", len(srvs), "for", o.duration)
	st.loadBefore = benchkit.LoadAverage()
	cpu0, err := cpuNow(srvs, local)
	if err != nil {
		return nil, err
	}
	pg0 := backendCPU(ctx, d.SQL)
	started := time.Now()
	var wg sync.WaitGroup
	moved := newClockMoves()
	wg.Go(func() { clockRuns(runCtx, bases, moved) })
	// People arrive over the ramp, not all in the same instant: 200
	// registrations (each an argon2id hash) and 200 SMS codes in the first
	// second measured a thundering herd no real service sees.
	ramp := min(o.duration/4, 30*time.Second)
	for i := range o.applicants {
		wg.Go(func() {
			sleep(runCtx, ramp*time.Duration(i)/time.Duration(o.applicants))
			applicant(runCtx, bases, i, o.applicants, o.think, pics, moved, st)
		})
	}
	for i := range o.reviewers {
		wg.Go(func() {
			sleep(runCtx, ramp*time.Duration(i)/time.Duration(max(o.reviewers, 1)))
			reviewer(runCtx, bases, fmt.Sprintf("load_rv%02d", i), o.think, st)
		})
	}
	wg.Wait()
	st.took = time.Since(started)
	cpu1, err := cpuNow(srvs, local)
	if err != nil {
		return nil, err
	}
	st.cpu = cpu1.minus(cpu0)
	for pid, t := range backendCPU(ctx, d.SQL) {
		st.cpu.postgres += t - pg0[pid]
	}
	st.loadAfter = benchkit.LoadAverage()
	logger.Info("load done; checking the submitted cases", "submitted", len(st.submitted))
	st.checkCases(ctx, bases)
	for _, s := range srvs {
		kb, err := s.Memory("VmHWM")
		if err != nil {
			return nil, err
		}
		st.peakKB = append(st.peakKB, kb)
	}
	return st, nil
}

// submittedCase is a case an applicant submitted: its id and token to look
// it up again, and the number the server gave it.
type submittedCase struct{ id, token, number string }

// stats is what the load found, shared by every simulated user.
type stats struct {
	mu        sync.Mutex
	steps     map[string]benchkit.Timings // successful steps' latencies
	errors    map[string]int              // "step status code" → count
	submitted []submittedCase
	decisions int
	// quotaWaits counts recovery codes refused (429) because the phone had
	// its registration code within the minute: expected, not an error.
	quotaWaits int
	lost       []string
	took       time.Duration
	peakKB     []int64
	// cpu is what the run cost in CPU time; the load averages bracket it
	// (the machine may be shared).
	cpu                   cpuTimes
	loadBefore, loadAfter string
}

// cpuTimes are CPU times used: by each server, by MinIO, by this load
// generator, and by the whole machine (busy out of total, all users).
type cpuTimes struct {
	servers                  []time.Duration
	minio, self, busy, total time.Duration
	// postgres is the CPU of the database's server processes serving the
	// load's database (a PostgreSQL on this machine; 0 otherwise).
	postgres time.Duration
}

// backendCPU is the CPU time used so far by each PostgreSQL backend
// connected to db's database, when they run on this machine; nil for
// SQLite or when it cannot be read.
func backendCPU(ctx context.Context, db *sql.DB) map[int]time.Duration {
	rows, err := db.QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		return nil
	}
	defer rows.Close()
	out := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			return nil
		}
		if t, err := benchkit.ProcessCPU(pid); err == nil {
			out[pid] = t
		}
	}
	return out
}

// cpuNow reads the CPU times used so far.
func cpuNow(srvs []*benchkit.Server, local *storage.LocalServer) (cpuTimes, error) {
	var c cpuTimes
	for _, s := range srvs {
		d, err := benchkit.ProcessCPU(s.Pid())
		if err != nil {
			return c, err
		}
		c.servers = append(c.servers, d)
	}
	var err error
	if c.minio, err = benchkit.ProcessCPU(local.PID()); err != nil {
		return c, err
	}
	if c.self, err = benchkit.ProcessCPU(os.Getpid()); err != nil {
		return c, err
	}
	c.busy, c.total, err = benchkit.MachineCPU()
	return c, err
}

// minus is the CPU time used between two readings.
func (c cpuTimes) minus(o cpuTimes) cpuTimes {
	out := cpuTimes{minio: c.minio - o.minio, self: c.self - o.self, busy: c.busy - o.busy, total: c.total - o.total}
	for i := range c.servers {
		out.servers = append(out.servers, c.servers[i]-o.servers[i])
	}
	return out
}

func newStats() *stats {
	return &stats{steps: map[string]benchkit.Timings{}, errors: map[string]int{}}
}

// hashing are the steps that compute an argon2id hash (registration hashes
// the password, an approval the new one): they wait for the hash bound and
// are judged apart from the rest.
var hashing = map[string]bool{"register": true, "decide": true, "sign-in": true}

// errQuota marks a recovery code refused for the per-phone quota.
var errQuota = errors.New("per-phone SMS quota")

var errorCode = regexp.MustCompile(`"code":"([a-z_]+)"`)

// busyTitle is the title of the console's page for a request the hash bound
// shed (the JSON API says "code":"busy"; see handlers' errBusy).
const busyTitle = "系统繁忙，请稍后重试"

// record times fn as step: a success adds its latency, a failure counts
// under its status and error code. It reports whether fn succeeded.
func (st *stats) record(ctx context.Context, step string, fn func() (int, string, error)) bool {
	if ctx.Err() != nil {
		// The run is over: a step begun now would be sent with whatever the
		// previous one left (an empty SMS code when readCode was cut short)
		// and counted as the server's error.
		return false
	}
	t0 := time.Now()
	status, body, err := fn()
	took := time.Since(t0)
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case errors.Is(err, errQuota):
		return false // counted by the caller
	case err != nil && ctx.Err() != nil:
		return false // the run ended mid-request
	case err != nil:
		st.errors[step+" transport error"]++
		return false
	case status >= 400:
		code := ""
		if m := errorCode.FindStringSubmatch(body); m != nil {
			code = m[1]
		} else if status == http.StatusServiceUnavailable && strings.Contains(body, busyTitle) {
			code = "busy" // a console page shed by the hash bound
		}
		st.errors[fmt.Sprintf("%s %d %s", step, status, code)]++
		return false
	}
	st.steps[step] = append(st.steps[step], took)
	return true
}

var (
	smsCode    = regexp.MustCompile(`验证码为(\d{6})`)
	caseLink   = regexp.MustCompile(`href="/console/cases/(ZH\d{14})"`)
	versionFld = regexp.MustCompile(`name="version" value="(\d+)"`)
)

// apiCall adapts Client.API to record.
func apiCall(c *benchkit.Client, method, path, token string, body, out any) func() (int, string, error) {
	return func() (int, string, error) {
		status, err := c.API(method, path, token, body, out)
		if status >= 400 {
			return status, err.Error(), nil
		}
		return status, "", err
	}
}

// readCode polls the dev outbox until phone has received its nth code and
// returns that code (the newest; the outbox lists newest first).
func readCode(ctx context.Context, c *benchkit.Client, phone string, nth int) string {
	for ctx.Err() == nil {
		var out struct {
			Messages []struct{ Text string } `json:"messages"`
		}
		if _, err := c.API(http.MethodGet, "/dev/sms?phone="+phone, "", nil, &out); err == nil {
			var codes []string
			for _, m := range out.Messages {
				if sm := smsCode.FindStringSubmatch(m.Text); sm != nil {
					codes = append(codes, sm[1])
				}
			}
			if len(codes) >= nth {
				return codes[0]
			}
		}
		sleep(ctx, 200*time.Millisecond)
	}
	return ""
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// clockRuns moves the shared dev clock 61 s ahead every 10 s. A phone gets
// at most one code a minute (the quota is per phone, whatever the purpose),
// and every simulated applicant asks for a registration code and, soon
// after, a recovery code for the same phone; waiting a real minute between
// them would leave a short run with no submissions. Claims (and codes) last
// long enough that the clock running 6× fast changes nothing else here.
// After each move it tells the applicants waiting for the quota (moved),
// once every instance has seen the move (they re-read the shared clock
// every 500 ms).
func clockRuns(ctx context.Context, bases []string, moved *clockMoves) {
	c := benchkit.NewClient(bases, true)
	for ctx.Err() == nil {
		sleep(ctx, 10*time.Second)
		if _, err := c.API(http.MethodPost, "/dev/clock", "", map[string]string{"advance": "61s"}, nil); err == nil {
			sleep(ctx, 600*time.Millisecond)
			moved.broadcast()
		}
	}
}

// clockMoves tells waiting applicants that the clock has moved: asking
// again for a code before then would only be refused again (the server's
// work for nothing: it had been one request in seven of a run).
type clockMoves struct {
	mu sync.Mutex
	ch chan struct{}
}

func newClockMoves() *clockMoves { return &clockMoves{ch: make(chan struct{})} }

// next is closed at the next move.
func (m *clockMoves) next() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ch
}

func (m *clockMoves) broadcast() {
	m.mu.Lock()
	defer m.mu.Unlock()
	close(m.ch)
	m.ch = make(chan struct{})
}

// pause is a person's pause between two steps: uniform in 0–2× the mean.
func pause(ctx context.Context, r *rand.Rand, mean time.Duration) {
	sleep(ctx, time.Duration(r.Int64N(int64(2*mean)+1)))
}

// applicant is one simulated applicant: again and again, a new account is
// registered and taken through a whole recovery, then its status polled.
func applicant(ctx context.Context, bases []string, n, of int, think time.Duration, pics *photos, moved *clockMoves, st *stats) {
	r := rand.New(rand.NewPCG(uint64(n), 19))
	var c *benchkit.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for k := 0; ctx.Err() == nil; k++ {
		if c != nil {
			c.Close() // the last round's person is done
		}
		seq := k*of + n // unique across applicants and rounds
		birth := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, seq/900)
		p := benchkit.Person{Username: fmt.Sprintf("load%06d", seq), Name: "负载测试",
			IDNumber: rules.CompleteIDNumber("440106" + birth.Format("20060102") + fmt.Sprintf("%03d", 100+seq%900)),
			Phone:    fmt.Sprintf("1%010d", 3_000_000_000+seq)}
		c = benchkit.NewClient(bases, true)
		if !st.record(ctx, "sms code", apiCall(c, http.MethodPost, "/api/v1/sms/codes", "", map[string]string{"phone": p.Phone, "purpose": "register"}, nil)) {
			sleep(ctx, time.Second)
			continue
		}
		code := readCode(ctx, c, p.Phone, 1)
		pause(ctx, r, think)
		if !st.record(ctx, "register", apiCall(c, http.MethodPost, "/api/v1/accounts/person", "", map[string]string{"username": p.Username,
			"password": applicantPassword, "name": p.Name, "id_number": p.IDNumber, "phone": p.Phone, "sms_code": code}, nil)) {
			sleep(ctx, time.Second)
			continue
		}
		pause(ctx, r, think)
		var started struct{ ID, Token string }
		if !st.record(ctx, "recover", apiCall(c, http.MethodPost, "/api/v1/recoveries", "", map[string]string{"kind": "person",
			"username": p.Username, "name": p.Name, "id_number": p.IDNumber}, &started)) {
			continue
		}
		// The registration code went to this phone moments ago: wait for
		// the per-phone quota (the clock goroutine releases it within 10 s).
		// These waits are counted apart, not as errors.
		sent := false
		for range 30 {
			quota := false
			moves := moved.next()
			sent = st.record(ctx, "recovery sms", func() (int, string, error) {
				status, err := c.API(http.MethodPost, "/api/v1/recoveries/"+started.ID+"/sms", started.Token, nil, nil)
				if status == http.StatusTooManyRequests {
					quota = true
					return 0, "", errQuota
				}
				if status >= 400 {
					return status, err.Error(), nil
				}
				return status, "", err
			})
			if !quota || ctx.Err() != nil {
				break
			}
			st.mu.Lock()
			st.quotaWaits++
			st.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-moves:
				// Not all in the same instant: people come back when they
				// come back.
				sleep(ctx, time.Duration(r.Int64N(int64(3*time.Second))))
			}
		}
		if !sent {
			continue
		}
		code = readCode(ctx, c, p.Phone, 2)
		pause(ctx, r, think)
		if !st.record(ctx, "verify", apiCall(c, http.MethodPost, "/api/v1/recoveries/"+started.ID+"/verify", started.Token, map[string]string{"code": code}, nil)) {
			continue
		}
		rec := &benchkit.Recovery{C: c, ID: started.ID, Token: started.Token}
		// Four images: each kind a person needs, then each again (a retake
		// replaces the first), every one a different picture.
		ok := true
		for _, kind := range []string{"id_front", "id_handheld", "id_front", "id_handheld"} {
			img := pics.take(r)
			pause(ctx, r, think)
			if ok = st.record(ctx, "upload", func() (int, string, error) { return rec.UploadStatus(kind, img) }); !ok {
				break
			}
		}
		if !ok {
			continue
		}
		pause(ctx, r, think)
		var sub struct {
			CaseNumber string `json:"case_number"`
		}
		if !st.record(ctx, "submit", apiCall(c, http.MethodPost, "/api/v1/recoveries/"+started.ID+"/submit", started.Token, nil, &sub)) {
			continue
		}
		st.mu.Lock()
		st.submitted = append(st.submitted, submittedCase{id: started.ID, token: started.Token, number: sub.CaseNumber})
		st.mu.Unlock()
		for range 3 {
			sleep(ctx, 2*time.Second)
			st.record(ctx, "status", apiCall(c, http.MethodGet, "/api/v1/recoveries/"+started.ID, started.Token, nil, nil))
		}
	}
}

// reviewer is one simulated reviewer: sign in, then read the queue, claim
// its first case, view it and its first image, and approve it.
func reviewer(ctx context.Context, bases []string, username string, think time.Duration, st *stats) {
	r := rand.New(rand.NewPCG(uint64(len(username)), 7))
	c := benchkit.NewClient(bases, true)
	for signedIn := false; !signedIn; {
		if ctx.Err() != nil {
			return
		}
		signedIn = st.record(ctx, "sign-in", func() (int, string, error) {
			if _, _, err := c.Get("/console/login"); err != nil {
				return 0, "", err
			}
			status, body, err := c.PostForm("/console/login", url.Values{"username": {username}, "password": {staffPassword}})
			if status == http.StatusSeeOther {
				status = 200
			} else if status < 400 {
				status = 400 // the form again: refused
			}
			return status, body, err
		})
		if !signedIn {
			sleep(ctx, time.Second)
		}
	}
	for ctx.Err() == nil {
		pause(ctx, r, think)
		var page string
		if !st.record(ctx, "queue", func() (int, string, error) {
			status, body, err := c.Get("/console/cases?tab=pending")
			page = body
			return status, body, err
		}) {
			sleep(ctx, time.Second)
			continue
		}
		links := caseLink.FindAllStringSubmatch(page, -1)
		if len(links) == 0 {
			sleep(ctx, time.Second)
			continue
		}
		number := links[rand.IntN(len(links))][1]
		if !st.record(ctx, "claim", func() (int, string, error) {
			status, body, err := c.PostForm("/console/cases/"+number+"/claim", url.Values{})
			if status == http.StatusSeeOther {
				status = 200
			}
			return status, body, err
		}) {
			continue // another reviewer was faster: 409, counted
		}
		var version string
		if !st.record(ctx, "view case", func() (int, string, error) {
			status, body, err := c.Get("/console/cases/" + number)
			if m := versionFld.FindStringSubmatch(body); m != nil {
				version = m[1]
			}
			return status, body, err
		}) || version == "" {
			continue
		}
		st.record(ctx, "view evidence", func() (int, string, error) { return c.Get("/console/cases/" + number + "/evidence/id_front") })
		if st.record(ctx, "decide", func() (int, string, error) {
			status, body, err := c.PostForm("/console/cases/"+number+"/decision", url.Values{"outcome": {"approve"}, "version": {version}})
			if status == http.StatusSeeOther {
				status = 200
			}
			return status, body, err
		}) {
			st.mu.Lock()
			st.decisions++
			st.mu.Unlock()
		}
	}
}

// checkCases looks every submitted case up again through the applicant's
// API: a case that is not found, or found under another number, is lost.
func (st *stats) checkCases(ctx context.Context, bases []string) {
	c := benchkit.NewClient(bases, true)
	for _, sc := range st.submitted {
		var got struct {
			CaseNumber string `json:"case_number"`
			Status     string `json:"status"`
		}
		if _, err := c.API(http.MethodGet, "/api/v1/recoveries/"+sc.id, sc.token, nil, &got); err != nil || got.CaseNumber != sc.number || got.Status == "draft" {
			st.lost = append(st.lost, fmt.Sprintf("%s (%s: %v)", sc.number, got.Status, err))
		}
	}
}

// photos are distinct pictures made before the run, so that making them
// (13 ms of CPU each) does not take the servers' cores during it; when they
// run out, more are made as needed.
type photos struct {
	mu   sync.Mutex
	list [][]byte
	next int
}

// photoCount is about how many pictures a run uploads: four per round of
// each applicant, a round being about a dozen pauses; at most 4 000.
func photoCount(o options) int {
	rounds := max(1, int(o.duration/(12*max(o.think, 100*time.Millisecond))))
	return min(4*o.applicants*rounds, 4000)
}

// newPhotos makes n pictures, on every core.
func newPhotos(n int) *photos {
	p := &photos{list: make([][]byte, n)}
	var wg sync.WaitGroup
	workers := runtime.NumCPU()
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 23))
			for i := w; i < n; i += workers {
				p.list[i] = photo(r)
			}
		})
	}
	wg.Wait()
	return p
}

// take returns the next unused picture, or a new one made with r.
func (p *photos) take(r *rand.Rand) []byte {
	p.mu.Lock()
	if p.next < len(p.list) {
		img := p.list[p.next]
		p.list[p.next] = nil
		p.next++
		p.mu.Unlock()
		return img
	}
	p.mu.Unlock()
	return photo(r)
}

// photo is a distinct 640×480 picture as a JPEG of about 100 kB (noise over
// a gradient: every one hashes differently, so no case looks like another's
// evidence and approvals need no second approver).
func photo(r *rand.Rand) []byte {
	const w, h = 640, 480
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	tint := uint8(r.IntN(256))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x*255/w) ^ tint, uint8(r.IntN(256)), uint8(y * 255 / h), 255})
		}
	}
	// Large blocks of random brightness make the perceptual hashes differ.
	for by := range 8 {
		for bx := range 9 {
			v := uint8(r.IntN(256))
			for y := by * h / 8; y < (by+1)*h/8; y += 2 {
				for x := bx * w / 9; x < (bx+1)*w/9; x += 2 {
					img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
				}
			}
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80})
	return buf.Bytes()
}

// markdown renders the results with the targets.
func (st *stats) markdown(o options) string {
	var b strings.Builder
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Fprintf(&b, "## Load run — %s\n\n%d applicants and %d reviewers (mean pause %s) for %s against %d instance(s) (RD_HASH_CONCURRENCY=%d each) on %s and one MinIO; %d cores.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), o.applicants, o.reviewers, o.think, st.took.Round(time.Second), o.instances, o.hashConcurrency, o.db, runtime.NumCPU())
	b.WriteString("| step | count | per second | p50 | p99 | max |\n|---|---|---|---|---|---|\n")
	names := make([]string, 0, len(st.steps))
	total := 0
	for k, t := range st.steps {
		names = append(names, k)
		total += len(t)
	}
	sort.Strings(names)
	var plain benchkit.Timings
	for _, k := range names {
		t := st.steps[k]
		if !hashing[k] {
			plain = append(plain, t...)
		}
		label := k
		if hashing[k] {
			label += " (argon2id)"
		}
		fmt.Fprintf(&b, "| %s | %d | %.1f | %s | %s | %s |\n", label, len(t), float64(len(t))/st.took.Seconds(), ms(t.Median()), ms(t.P99()), ms(t.Rank(100)))
	}
	fmt.Fprintf(&b, "| all successful requests | %d | %.1f | | | |\n\n", total, float64(total)/st.took.Seconds())
	cores := func(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()/st.took.Seconds()) }
	srvCores := make([]string, len(st.cpu.servers))
	for i, d := range st.cpu.servers {
		srvCores[i] = cores(d)
	}
	fmt.Fprintf(&b, "CPU used, in cores (CPU seconds per second of the run): servers %s, PostgreSQL backends %s, MinIO %s, this load generator %s; "+
		"the whole machine was busy %.0f %% of its cores (all users; load average %s before, %s after).\n\n",
		strings.Join(srvCores, ", "), cores(st.cpu.postgres), cores(st.cpu.minio), cores(st.cpu.self), 100*st.cpu.busy.Seconds()/max(st.cpu.total.Seconds(), 1e-9),
		st.loadBefore, st.loadAfter)
	fmt.Fprintf(&b, "Recovery codes that waited for the per-phone quota (429, retried; not errors): %d.\n\n", st.quotaWaits)
	if len(st.errors) > 0 {
		b.WriteString("| error (step, status, code) | count |\n|---|---|\n")
		keys := make([]string, 0, len(st.errors))
		for k := range st.errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "| %s | %d |\n", k, st.errors[k])
		}
		b.WriteString("\n")
	}
	fivexx, busy := 0, 0
	for k, n := range st.errors {
		switch {
		case strings.Contains(k, " 503 busy"):
			busy += n
		case regexp.MustCompile(` 5\d\d `).MatchString(k):
			fivexx += n
		}
	}
	var peak int64
	for _, kb := range st.peakKB {
		peak = max(peak, kb)
	}
	peaks := make([]string, len(st.peakKB))
	for i, kb := range st.peakKB {
		peaks[i] = fmt.Sprintf("%d MB", kb/1024)
	}
	b.WriteString("| target | measured | |\n|---|---|---|\n")
	fmt.Fprintf(&b, "| no 5xx (503 `busy` from the hash bound counted apart) | %d × 5xx, %d × 503 busy | %s |\n", fivexx, busy, verdict(fivexx == 0))
	fmt.Fprintf(&b, "| no lost case | %d submitted, %d lost | %s |\n", len(st.submitted), len(st.lost), verdict(len(st.lost) == 0 && len(st.submitted) > 0))
	fmt.Fprintf(&b, "| p99 of non-hashing requests < 100 ms | %s over %d requests | %s |\n", ms(plain.P99()), len(plain), verdict(len(plain) > 0 && plain.P99() < 100*time.Millisecond))
	fmt.Fprintf(&b, "| peak RSS (VmHWM) < 400 MB per instance | %s | %s |\n", strings.Join(peaks, ", "), verdict(peak > 0 && peak < 400*1024))
	fmt.Fprintf(&b, "| decisions per minute (reported) | %.1f (%d decisions) | |\n", float64(st.decisions)/st.took.Minutes(), st.decisions)
	for i, l := range st.lost {
		if i == 10 {
			fmt.Fprintf(&b, "\n… and %d more lost\n", len(st.lost)-10)
			break
		}
		fmt.Fprintf(&b, "\nlost: %s", l)
	}
	return b.String()
}

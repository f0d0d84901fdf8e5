package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"recoverydesk/ent/recoverycase"
	"recoverydesk/internal/benchkit"
	"recoverydesk/internal/db"
	"recoverydesk/internal/demodata"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/recovery/state"
	"recoverydesk/internal/rules"
	"recoverydesk/internal/secret"
	"recoverydesk/storage"
)

// benchPassword is the password of every seeded account and staff user.
const benchPassword = "Bench#2468go"

// queueDepth is how many pages deep the deep queue page lies.
const queueDepth = 100

// run does the whole bench and returns its report.
func run(ctx context.Context, o benchOptions, logger *slog.Logger) (*report, error) {
	dir, err := os.MkdirTemp("", "rd-bench-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		logger.Info("keeping the bench directory", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin, err := buildServer(ctx, o, dir)
	if err != nil {
		return nil, err
	}
	local, err := storage.StartLocal(ctx, storage.LocalOptions{DataDir: filepath.Join(dir, "minio")})
	if err != nil {
		return nil, fmt.Errorf("start MinIO: %w", err)
	}
	defer local.Stop()
	const bucket = "recoverydesk-evidence"
	store, err := storage.New(ctx, local.Config(bucket))
	if err != nil {
		return nil, err
	}
	dbURL, err := benchDatabase(ctx, o, dir)
	if err != nil {
		return nil, err
	}
	d, err := benchkit.OpenDB(ctx, dbURL, filepath.Join(dir, "data"))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	// The seeding below stores ID and phone numbers sealed, under the key
	// the server is started with.
	keys, err := secret.New([]byte(benchSecretKey))
	if err != nil {
		return nil, err
	}
	d.SealWith(keys)
	if err := d.Migrate(ctx); err != nil {
		return nil, err
	}
	if n, err := d.Ent.RecoveryCase.Query().Count(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, errors.New("the database already holds cases; the bench needs an empty one")
	}
	rep := newReport(ctx, d, o)

	hasher := passhash.Hasher{Params: passhash.Production}
	hash, err := hasher.Hash(benchPassword)
	if err != nil {
		return nil, err
	}
	team, err := demodata.CreateTeam(ctx, d, hash, demodata.Team{}, 2)
	if err != nil {
		return nil, err
	}
	if _, err := demodata.CreateStaff(ctx, d, "bench_rv", "郑审核", "reviewer", rules.ProvinceCode, hash); err != nil {
		return nil, err
	}
	persons, err := createPersons(ctx, d, hash, 60)
	if err != nil {
		return nil, err
	}
	env := []string{"RD_DATABASE_URL=" + dbURL, "RD_DATA_DIR=" + filepath.Join(dir, "data"), "RD_S3_ENDPOINT=" + local.Endpoint,
		"RD_S3_ACCESS_KEY=" + local.AccessKey, "RD_S3_SECRET_KEY=" + local.SecretKey, "RD_S3_BUCKET=" + bucket,
		"RD_SECRET_KEY=" + benchSecretKey, "RD_DEV=1", "RD_DEV_FORCE=1", "RD_SMS_DRIVER=outbox"}

	seeded := 0
	for i, size := range o.sizes {
		t0 := time.Now()
		st, err := demodata.Generate(ctx, d, demodata.Options{Cases: size - seeded, Seed: uint64(i + 1), Team: team, PasswordHash: hash,
			Progress: func(n int) {
				if n%100_000 == 0 {
					logger.Info("seeding", "cases", seeded+n, "of", size, "elapsed", time.Since(t0).Round(time.Second))
				}
			}})
		if err != nil {
			return nil, fmt.Errorf("seed %d cases: %w", size, err)
		}
		seedTook := time.Since(t0)
		t1 := time.Now()
		withImages, err := demodata.SeedEvidence(ctx, d, store, o.rounds(1000, 200))
		if err != nil {
			return nil, err
		}
		rep.seeds = append(rep.seeds, seedRun{size: size, added: size - seeded, took: seedTook, stats: st,
			evidenceCases: withImages, evidenceTook: time.Since(t1)})
		seeded = size
		logger.Info("seeded", "cases", size, "took", seedTook.Round(time.Millisecond), "evidence cases", withImages)

		srvs, err := benchkit.StartServers(ctx, bin, dir, env, o.instances)
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer benchkit.StopServers(srvs)
			q, err := measureQueue(benchkit.Bases(srvs), queueSets, o.rounds(200, 40))
			if err != nil {
				return fmt.Errorf("queue at %d cases: %w", size, err)
			}
			q.size = size
			rep.queues = append(rep.queues, q)
			logger.Info("queue measured", "cases", size, "first p99", q.first.P99(), "deep p99", q.deep.P99())
			if i < len(o.sizes)-1 {
				return nil
			}
			return measureRest(ctx, o, rep, srvs, d, local, hasher, hash, persons, logger)
		}()
		if err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// benchSecretKey is the bench server's RD_SECRET_KEY.
var benchSecretKey = strings.Repeat("b", 32)

// createPersons adds n verified persons (sequence digits 100–199 keep their
// ID numbers apart from the generated and demo ones).
func createPersons(ctx context.Context, d *db.DB, hash string, n int) ([]benchkit.Person, error) {
	var out []benchkit.Person
	err := d.InTx(ctx, func(tx *db.Tx) error {
		for i := range n {
			birth := time.Date(1985, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)
			p := benchkit.Person{Username: fmt.Sprintf("benchp%03d", i), Name: "测试" + string([]rune("甲乙丙丁戊己庚辛壬癸")[i%10]),
				IDNumber: rules.CompleteIDNumber("440106" + birth.Format("20060102") + fmt.Sprintf("%03d", 100+i%100)),
				Phone:    fmt.Sprintf("1990000%04d", i)}
			if err := tx.Ent.Account.Create().SetKind("person").SetUsername(p.Username).SetUsernameKey(p.Username).
				SetPasswordHash(hash).SetName(p.Name).SetCertType("id_card").SetCertNumber(p.IDNumber).SetRegionCode("440106").
				SetPhone(p.Phone).SetVerified(true).SetVerifiedAt(time.Now()).Exec(ctx); err != nil {
				return err
			}
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// queueFigure is the queue page at one size, beside a static file.
type queueFigure struct {
	size                int
	static, first, deep benchkit.Timings // every sample
	firstSets, deepSets benchkit.Timings // the median of each set
	depth               int
}

var nextLink = regexp.MustCompile(`href="/console/cases\?[^"]*after=([A-Za-z0-9_-]+)`)

// queueSets is how many sets of rounds the queue is timed in: growth is
// judged on the median of the sets' medians (one slow stretch of a shared
// machine moves one set, not the figure) and on the p99 of all the samples.
const queueSets = 5

// measureQueue signs the province-wide bench reviewer in and times, round by
// round, a static file, the queue's first page (待审核) and a page
// queueDepth pages deep in the 已完成 tab: sets sets of rounds rounds each.
func measureQueue(bases []string, sets, rounds int) (queueFigure, error) {
	var q queueFigure
	c := benchkit.NewClient(bases, true)
	if err := c.SignIn("bench_rv", benchPassword); err != nil {
		return q, err
	}
	deep := "/console/cases?tab=done"
	for q.depth < queueDepth {
		status, body, err := c.Get(deep)
		if err != nil || status != 200 {
			return q, fmt.Errorf("walk the queue: %d %v", status, err)
		}
		m := nextLink.FindStringSubmatch(body)
		if m == nil {
			break
		}
		deep = "/console/cases?tab=done&after=" + url.QueryEscape(m[1])
		q.depth++
	}
	page := func(path, want string) func() error {
		return func() error {
			status, body, err := c.Get(path)
			if err != nil {
				return err
			}
			if status != 200 || !strings.Contains(body, want) {
				return fmt.Errorf("GET %s: %d", path, status)
			}
			return nil
		}
	}
	ops := []func() error{page("/static/css/base.css", "{"), page("/console/cases?tab=pending", "tab-count"), page(deep, "tab-count")}
	for range sets {
		got, err := interleave(rounds, 5, ops...)
		if err != nil {
			return q, err
		}
		q.static, q.first, q.deep = append(q.static, got[0]...), append(q.first, got[1]...), append(q.deep, got[2]...)
		q.firstSets, q.deepSets = append(q.firstSets, got[1].Median()), append(q.deepSets, got[2].Median())
	}
	return q, nil
}

// interleave times each op once per round, in turn, so a noisy neighbour
// hits the measurement and its baseline alike.
func interleave(rounds, warm int, ops ...func() error) ([]benchkit.Timings, error) {
	out := make([]benchkit.Timings, len(ops))
	for r := range rounds + warm {
		for i, op := range ops {
			t0 := time.Now()
			if err := op(); err != nil {
				return nil, err
			}
			if r >= warm {
				out[i] = append(out[i], time.Since(t0))
			}
		}
	}
	return out, nil
}

// rest is what figures 2–5 share: the server on the largest data set, its
// database and MinIO, the hasher and hash of the bench password, the
// bench's applicants.
type rest struct {
	o       benchOptions
	rep     *report
	srvs    []*benchkit.Server
	d       *db.DB
	local   *storage.LocalServer
	hasher  passhash.Hasher
	hash    string
	persons []benchkit.Person
	logger  *slog.Logger
}

// measureRest takes figures 2–5 on the largest data set. Memory comes
// first, while the server has served only queue pages: argon2id's 64 MiB
// per hash (approve, login) stays resident for a while after a burst of
// hashes, and would be counted otherwise.
func measureRest(ctx context.Context, o benchOptions, rep *report, srvs []*benchkit.Server, d *db.DB, local *storage.LocalServer,
	hasher passhash.Hasher, hash string, persons []benchkit.Person, logger *slog.Logger) error {
	m := rest{o: o, rep: rep, srvs: srvs, d: d, local: local, hasher: hasher, hash: hash, persons: persons, logger: logger}
	for _, step := range []func(context.Context) error{m.memory, m.upload, m.approve, m.login} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// bases are the servers' addresses; the clients spread their requests over them.
func (m rest) bases() []string { return benchkit.Bases(m.srvs) }

// memory is figure 5: peak memory of the server during 50 concurrent 2 MB
// uploads (with several instances, of the instance that peaked highest).
func (m rest) memory(ctx context.Context) error {
	rep, persons, logger := m.rep, m.persons, m.logger
	photo2 := jpegAbout(1_900_000, 2<<20)
	recs := make([]*benchkit.Recovery, 50)
	var wg sync.WaitGroup
	errs := make([]error, len(recs))
	sem := make(chan struct{}, 8)
	for i := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			recs[i], errs[i] = benchkit.StartRecovery(ctx, benchkit.NewClient(m.bases(), true), persons[1+i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	before, err := benchkit.MaxMemory(m.srvs, "VmRSS")
	if err != nil {
		return err
	}
	for _, srv := range m.srvs {
		if err := srv.ResetPeak(); err != nil {
			return fmt.Errorf("reset the peak RSS: %w", err)
		}
	}
	t0 := time.Now()
	for i, r := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.Upload("id_handheld", photo2)
		}()
	}
	wg.Wait()
	burst := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	peak, err := benchkit.MaxMemory(m.srvs, "VmHWM")
	if err != nil {
		return err
	}
	rep.memory = memoryFigure{beforeKB: before, peakKB: peak, uploads: len(recs), size: len(photo2), took: burst}
	logger.Info("memory measured", "rss before MB", before/1024, "peak MB", peak/1024)
	return nil
}

// upload is figure 2: an upload through the API vs a direct PutObject of
// the same 1.5 MB JPEG, and vs the floor of the work an upload must do: one
// full decode and one PUT, run concurrently.
func (m rest) upload(ctx context.Context) error {
	o, rep, local, persons, logger := m.o, m.rep, m.local, m.persons, m.logger
	photo15 := jpegAbout(1_500_000, 1_700_000)
	rec, err := benchkit.StartRecovery(ctx, benchkit.NewClient(m.bases(), true), persons[0])
	if err != nil {
		return err
	}
	mc, err := minio.New(local.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(local.AccessKey, local.SecretKey, "")})
	if err != nil {
		return err
	}
	if err := mc.MakeBucket(ctx, "bench-direct", minio.MakeBucketOptions{}); err != nil {
		return err
	}
	put := func() error {
		_, err := mc.PutObject(ctx, "bench-direct", "evidence/direct", bytes.NewReader(photo15), int64(len(photo15)),
			minio.PutObjectOptions{ContentType: "image/jpeg"})
		return err
	}
	floor := func() error {
		done := make(chan error, 1)
		go func() { done <- put() }()
		_, derr := jpeg.Decode(bytes.NewReader(photo15))
		return errors.Join(derr, <-done)
	}
	up, err := interleave(o.rounds(30, 10), 2, put, floor, func() error { return rec.Upload("id_front", photo15) })
	if err != nil {
		return err
	}
	rep.upload = pair{measured: up[2], baseline: up[0], size: len(photo15)}
	rep.uploadFloor = up[1]
	logger.Info("upload measured", "api", up[2].Median(), "direct", up[0].Median(), "floor", up[1].Median())
	return nil
}

// approve is figure 3: a decision to approve vs one argon2id hash.
func (m rest) approve(ctx context.Context) error {
	o, rep, d, hasher, logger := m.o, m.rep, m.d, m.hasher, m.logger
	numbers, err := d.Ent.RecoveryCase.Query().Where(recoverycase.StatusEQ(state.Submitted), recoverycase.UsernameSimilarity(100),
		recoverycase.NameSimilarity(100)).Limit(o.rounds(20, 5) + 2).Select(recoverycase.FieldCaseNumber).Strings(ctx)
	if err != nil {
		return err
	}
	rv := benchkit.NewClient(m.bases(), true)
	if err := rv.SignIn("bench_rv", benchPassword); err != nil {
		return err
	}
	next := 0
	var approve, hashing benchkit.Timings
	for r := range len(numbers) {
		n := numbers[next]
		next++
		if status, body, err := rv.PostForm("/console/cases/"+n+"/claim", url.Values{}); err != nil || status != http.StatusSeeOther {
			return fmt.Errorf("claim %s: %d %v %.200s", n, status, err, body)
		}
		_, body, err := rv.Get("/console/cases/" + n)
		if err != nil {
			return err
		}
		m := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(body)
		if m == nil {
			return fmt.Errorf("case %s: no decision form", n)
		}
		t0 := time.Now()
		status, body, err := rv.PostForm("/console/cases/"+n+"/decision", url.Values{"outcome": {"approve"}, "version": {m[1]}})
		took := time.Since(t0)
		if err != nil || status != http.StatusSeeOther {
			return fmt.Errorf("approve %s: %d %v %.300s", n, status, err, body)
		}
		t0 = time.Now()
		if _, err := hasher.Hash(benchPassword); err != nil {
			return err
		}
		if r >= 2 {
			approve, hashing = append(approve, took), append(hashing, time.Since(t0))
		}
	}
	rep.approve = pair{measured: approve, baseline: hashing}
	logger.Info("approve measured", "approve", approve.Median(), "hash", hashing.Median())
	return nil
}

// login is figure 4: a login vs one argon2id verification. Each login
// comes from its own address, as applicants' do, so the per-address limit
// does not count the bench as one client.
func (m rest) login(ctx context.Context) error {
	o, rep, hasher, hash, persons, logger := m.o, m.rep, m.hasher, m.hash, m.persons, m.logger
	login, err := interleave(o.rounds(20, 5), 2,
		func() error {
			_, err := benchkit.NewClient(m.bases(), false).API(http.MethodPost, "/api/v1/login", "",
				map[string]string{"kind": "person", "username": persons[len(persons)-1].Username, "password": benchPassword}, nil)
			return err
		},
		func() error {
			ok, err := hasher.Verify(benchPassword, hash)
			if err == nil && !ok {
				err = errors.New("the bench hash does not verify")
			}
			return err
		})
	if err != nil {
		return err
	}
	rep.login = pair{measured: login[0], baseline: login[1]}
	logger.Info("login measured", "login", login[0].Median(), "verify", login[1].Median())
	return nil
}

// defaultBenchPostgres is the PostgreSQL database `make bench
// BENCH_DB=postgres` uses without RD_BENCH_POSTGRES_URL.
const defaultBenchPostgres = "postgres://postgres@127.0.0.1:5432/recoverydesk_bench?sslmode=disable"

// benchDatabase returns the database URL to measure on. SQLite: a file in
// the run's directory (or RD_DATABASE_URL, which must name an empty
// database). PostgreSQL: RD_BENCH_POSTGRES_URL or defaultBenchPostgres,
// dropped and created afresh: the bench owns that database.
func benchDatabase(ctx context.Context, o benchOptions, dir string) (string, error) {
	if o.db != "postgres" {
		if u := os.Getenv("RD_DATABASE_URL"); u != "" {
			return u, nil
		}
		return "sqlite://" + filepath.Join(dir, "bench.db"), nil
	}
	dbURL := cmp.Or(os.Getenv("RD_BENCH_POSTGRES_URL"), defaultBenchPostgres)
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", fmt.Errorf("RD_BENCH_POSTGRES_URL: %w", err)
	}
	if err := benchkit.FreshPostgres(ctx, u); err != nil {
		return "", err
	}
	return dbURL, nil
}

// jpegAbout returns a noisy photo encoded as JPEG of between lo and hi
// bytes (its width is scaled towards the middle of the band).
func jpegAbout(lo, hi int) []byte {
	encode := func(w int) []byte {
		r := rand.New(rand.NewPCG(42, 7))
		h := w * 3 / 4
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetRGBA(x, y, color.RGBA{uint8(x * 255 / w), uint8(r.IntN(256)), uint8(y * 255 / h), 255})
			}
		}
		var buf bytes.Buffer
		_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
		return buf.Bytes()
	}
	w := 1000
	best := encode(w)
	for range 8 {
		if len(best) >= lo && len(best) <= hi {
			break
		}
		w = int(float64(w) * math.Sqrt(float64(lo+hi)/2/float64(len(best))))
		best = encode(w)
	}
	return best
}

package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"recoverydesk/internal/benchkit"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/demodata"
	"recoverydesk/internal/recovery/state"
)

// pair is one measured operation beside its baseline.
type pair struct {
	measured, baseline benchkit.Timings
	size               int // bytes moved per operation, when it matters
}

// memoryFigure is the server's resident memory around the upload burst.
type memoryFigure struct {
	beforeKB, peakKB int64
	uploads, size    int
	took             time.Duration
}

// seedRun is one seeding step.
type seedRun struct {
	size, added   int
	took          time.Duration
	stats         demodata.Stats
	evidenceCases int
	evidenceTook  time.Duration
}

// report is everything a run found.
type report struct {
	quick                  bool
	date                   time.Time
	cpu, goVersion         string
	cores                  int
	memTotal               string
	dbKind, dbVersion      string
	seeds                  []seedRun
	queues                 []queueFigure
	upload, approve, login pair
	uploadFloor            benchkit.Timings // one decode and one PUT, concurrently
	memory                 memoryFigure
	instances              int
	took                   time.Duration
}

func newReport(ctx context.Context, d *db.DB, o benchOptions) *report {
	r := &report{quick: o.quick, date: time.Now(), goVersion: runtime.Version(), cores: runtime.NumCPU(), dbKind: string(d.Kind),
		instances: max(o.instances, 1)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				r.cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb); err == nil {
			r.memTotal = fmt.Sprintf("%.1f GiB", float64(kb)/1024/1024)
		}
	}
	q := "SELECT sqlite_version()"
	if d.Kind == config.Postgres {
		q = "SHOW server_version"
	}
	_ = d.SQL.QueryRowContext(ctx, q).Scan(&r.dbVersion)
	return r
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

// markdown renders the report.
func (r *report) markdown() string {
	var b strings.Builder
	mode := "full run"
	if r.quick {
		mode = "quick run (`--quick`)"
	}
	fmt.Fprintf(&b, "## Results — %s, %s\n\n", r.date.Format("2006-01-02 15:04 MST"), mode)
	fmt.Fprintf(&b, "Machine: %d cores (%s), %s memory, %s, %s %s, %d server instance(s) on one database and one MinIO. Whole run: %s.\n\n",
		r.cores, r.cpu, r.memTotal, r.goVersion, r.dbKind, r.dbVersion, r.instances, r.took.Round(time.Second))
	b.WriteString("| figure | measured: median / p99 | baseline: median / p99 | ratio | target | | samples |\n|---|---|---|---|---|---|---|\n")
	for _, q := range r.queues {
		for _, p := range []struct {
			name string
			t    benchkit.Timings
		}{{"first page (待审核)", q.first}, {fmt.Sprintf("page %d deep (已完成)", q.depth+1), q.deep}} {
			ratio := float64(p.t.Median()) / float64(q.static.Median())
			fmt.Fprintf(&b, "| queue, %s, %s cases | %s / %s | static file %s / %s | %.1f× the static file | p99 < 50 ms | %s | %d each |\n",
				p.name, thousands(q.size), ms(p.t.Median()), ms(p.t.P99()), ms(q.static.Median()), ms(q.static.P99()), ratio,
				verdict(p.t.P99() < 50*time.Millisecond), len(p.t))
		}
	}
	if len(r.queues) > 1 {
		a, z := r.queues[0], r.queues[len(r.queues)-1]
		for _, p := range []struct {
			name       string
			t0, t1     benchkit.Timings
			set0, set1 benchkit.Timings
		}{{"first page", a.first, z.first, a.firstSets, z.firstSets}, {"deep page", a.deep, z.deep, a.deepSets, z.deepSets}} {
			// Judged on the median of the sets' medians and on the p99 of
			// every sample (≥ 1 000 per size in a full run).
			g50 := float64(p.set1.Median()) / float64(p.set0.Median())
			g99 := float64(p.t1.P99()) / float64(p.t0.P99())
			fmt.Fprintf(&b, "| queue growth %s → %s, %s (median of %d set medians; p99 of all) | %s / %s | %s / %s | %.2f× (p99 %.2f×) | < 1.5× | %s | %d sets, %d / %d |\n",
				thousands(a.size), thousands(z.size), p.name, len(p.set1), ms(p.set1.Median()), ms(p.t1.P99()), ms(p.set0.Median()), ms(p.t0.P99()),
				g50, g99, verdict(g50 < 1.5 && g99 < 1.5), len(p.set1), len(p.t0), len(p.t1))
		}
	}
	if len(r.upload.measured) > 0 {
		u := r.upload
		tp := float64(u.baseline.Median()) / float64(u.measured.Median())
		mb := float64(u.size) / 1e6
		fmt.Fprintf(&b, "| evidence upload, %.2f MB JPEG, API | %s / %s (%.1f MB/s) | direct PutObject %s / %s (%.1f MB/s) | %.2f× the direct throughput | ≥ 0.8× | %s | %d |\n",
			mb, ms(u.measured.Median()), ms(u.measured.P99()), mb/u.measured.Median().Seconds(), ms(u.baseline.Median()),
			ms(u.baseline.P99()), mb/u.baseline.Median().Seconds(), tp, verdict(tp >= 0.8), len(u.measured))
		f := r.uploadFloor
		rf := float64(u.measured.Median()) / float64(f.Median())
		fmt.Fprintf(&b, "| evidence upload, API, against its floor | %s / %s | one decode + one PutObject, concurrently: %s / %s | %.2f× the floor's time | ≤ 1.15× | %s | %d |\n",
			ms(u.measured.Median()), ms(u.measured.P99()), ms(f.Median()), ms(f.P99()), rf, verdict(rf <= 1.15), len(f))
		a := r.approve
		ra := float64(a.baseline.Median()) / float64(a.measured.Median())
		fmt.Fprintf(&b, "| approve (decision + pending password + queued SMS), cases with evidence | %s / %s | one argon2id hash %s / %s | %.2f× | ≥ 0.9× | %s | %d |\n",
			ms(a.measured.Median()), ms(a.measured.P99()), ms(a.baseline.Median()), ms(a.baseline.P99()), ra, verdict(ra >= 0.9), len(a.measured))
		l := r.login
		rl := float64(l.baseline.Median()) / float64(l.measured.Median())
		fmt.Fprintf(&b, "| login (API) | %s / %s | one argon2id verification %s / %s | %.2f× | ≥ 0.8× | %s | %d |\n",
			ms(l.measured.Median()), ms(l.measured.P99()), ms(l.baseline.Median()), ms(l.baseline.P99()), rl, verdict(rl >= 0.8), len(l.measured))
		m := r.memory
		fmt.Fprintf(&b, "| peak server memory (VmHWM, highest instance), %d concurrent %.2f MB uploads | %d MB (in %s) | %d MB resident before | | < 300 MB | %s | 1 burst |\n",
			m.uploads, float64(m.size)/1e6, m.peakKB/1024, m.took.Round(time.Millisecond), m.beforeKB/1024, verdict(m.peakKB < 300*1024))
	}
	b.WriteString("\nSeeding (internal/demodata through ent in batches of 1 000 cases per transaction; evidence images put into MinIO separately):\n\n")
	b.WriteString("| cases in total | added | took | cases/s | accounts | events | audit entries | QA reviews | cases given evidence images |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.seeds {
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s | %s | %s | %s | %d (%s) |\n", thousands(s.size), thousands(s.added),
			s.took.Round(100*time.Millisecond), float64(s.added)/s.took.Seconds(), thousands(s.stats.Accounts),
			thousands(s.stats.Events), thousands(s.stats.Audits), thousands(s.stats.QAReviews), s.evidenceCases,
			s.evidenceTook.Round(100*time.Millisecond))
	}
	if len(r.seeds) > 0 {
		last := r.seeds[len(r.seeds)-1]
		var parts []string
		for _, st := range state.All {
			parts = append(parts, fmt.Sprintf("%s %d", st, last.stats.ByStatus[st]))
		}
		fmt.Fprintf(&b, "\nStatuses added in the last step: %s.\n", strings.Join(parts, ", "))
	}
	b.WriteString(howMeasured)
	return b.String()
}

const howMeasured = `
How the figures are taken: one ` + "`recoverydesk serve`" + ` child process (the real binary, dev mode for the SMS outbox) on
the seeded database and a bundled MinIO, restarted for each data size; requests come over loopback HTTP. The queue is
read by a province-wide reviewer (the widest scope, every case counted) with keep-alive, alternating round by round
with a static CSS file from the same process, in 5 sets of rounds (200 rounds each in a full run, 40 with --quick): growth
is judged on the median of the 5 sets' medians and on the p99 of all 1 000 samples per size. With --instances N the
clients send each request to the next instance in turn. "Deep" is the 已完成 tab after following the keyset links 100 pages in.
Uploads alternate with a minio-go PutObject of the same bytes into the same MinIO and with the upload's floor: an
image/jpeg decode of the same bytes in the bench process while that PutObject runs. Approvals are timed on the decision
POST alone (the claim before it is not timed), alternating with one argon2id hash (passhash.Production) in the bench
process; logins (each from its own loopback address, so the per-address limit does not apply) alternate with one
argon2id verification. Peak memory is the server process's VmHWM after resetting it (` + "`/proc/PID/clear_refs`" + ` 5)
just before the 50 uploads start at once.
`

func thousands(n int) string {
	s := fmt.Sprint(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ' ')
		}
		out = append(out, s[i])
	}
	return string(out)
}

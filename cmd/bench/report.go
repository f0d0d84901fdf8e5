package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/demodata"
	"recoverydesk/internal/recovery/state"
)

// pair is one measured operation beside its baseline.
type pair struct {
	measured, baseline timings
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
	memory                 memoryFigure
	took                   time.Duration
}

func newReport(ctx context.Context, d *db.DB, o benchOptions) *report {
	r := &report{quick: o.quick, date: time.Now(), goVersion: runtime.Version(), cores: runtime.NumCPU(), dbKind: string(d.Kind)}
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
	fmt.Fprintf(&b, "Machine: %d cores (%s), %s memory, %s, %s %s. Whole run: %s.\n\n", r.cores, r.cpu, r.memTotal, r.goVersion,
		r.dbKind, r.dbVersion, r.took.Round(time.Second))
	b.WriteString("| figure | measured: median / p99 | baseline: median / p99 | ratio | target | |\n|---|---|---|---|---|---|\n")
	for _, q := range r.queues {
		for _, p := range []struct {
			name string
			t    timings
		}{{"first page (待审核)", q.first}, {fmt.Sprintf("page %d deep (已完成)", q.depth+1), q.deep}} {
			ratio := float64(p.t.median()) / float64(q.static.median())
			fmt.Fprintf(&b, "| queue, %s, %s cases | %s / %s | static file %s / %s | %.1f× the static file | p99 < 50 ms | %s |\n",
				p.name, thousands(q.size), ms(p.t.median()), ms(p.t.p99()), ms(q.static.median()), ms(q.static.p99()), ratio,
				verdict(p.t.p99() < 50*time.Millisecond))
		}
	}
	if len(r.queues) > 1 {
		a, z := r.queues[0], r.queues[len(r.queues)-1]
		for _, p := range []struct {
			name   string
			t0, t1 timings
		}{{"first page", a.first, z.first}, {"deep page", a.deep, z.deep}} {
			g50 := float64(p.t1.median()) / float64(p.t0.median())
			g99 := float64(p.t1.p99()) / float64(p.t0.p99())
			fmt.Fprintf(&b, "| queue growth %s → %s, %s | %s / %s | %s / %s | %.2f× (p99 %.2f×) | < 1.5× | %s |\n",
				thousands(a.size), thousands(z.size), p.name, ms(p.t1.median()), ms(p.t1.p99()), ms(p.t0.median()), ms(p.t0.p99()),
				g50, g99, verdict(g50 < 1.5 && g99 < 1.5))
		}
	}
	if len(r.upload.measured) > 0 {
		u := r.upload
		tp := float64(u.baseline.median()) / float64(u.measured.median())
		mb := float64(u.size) / 1e6
		fmt.Fprintf(&b, "| evidence upload, %.2f MB JPEG, API | %s / %s (%.1f MB/s) | direct PutObject %s / %s (%.1f MB/s) | %.2f× the direct throughput | ≥ 0.8× | %s |\n",
			mb, ms(u.measured.median()), ms(u.measured.p99()), mb/u.measured.median().Seconds(), ms(u.baseline.median()),
			ms(u.baseline.p99()), mb/u.baseline.median().Seconds(), tp, verdict(tp >= 0.8))
		a := r.approve
		ra := float64(a.baseline.median()) / float64(a.measured.median())
		fmt.Fprintf(&b, "| approve (decision + pending password + queued SMS) | %s / %s | one argon2id hash %s / %s | %.2f× | ≥ 0.8× | %s |\n",
			ms(a.measured.median()), ms(a.measured.p99()), ms(a.baseline.median()), ms(a.baseline.p99()), ra, verdict(ra >= 0.8))
		l := r.login
		rl := float64(l.baseline.median()) / float64(l.measured.median())
		fmt.Fprintf(&b, "| login (API) | %s / %s | one argon2id verification %s / %s | %.2f× | ≥ 0.8× | %s |\n",
			ms(l.measured.median()), ms(l.measured.p99()), ms(l.baseline.median()), ms(l.baseline.p99()), rl, verdict(rl >= 0.8))
		m := r.memory
		fmt.Fprintf(&b, "| peak server memory (VmHWM), %d concurrent %.2f MB uploads | %d MB (in %s) | %d MB resident before | | < 300 MB | %s |\n",
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
with a static CSS file from the same process. "Deep" is the 已完成 tab after following the keyset links 100 pages in.
Uploads alternate with a minio-go PutObject of the same bytes into the same MinIO. Approvals are timed on the decision
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

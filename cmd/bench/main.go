// Command bench measures recoverydesk against its physical baselines, each
// beside its baseline in the same run: the queue page against a static file
// served by the same process (at 10 000, 100 000 and 1 000 000 cases), an
// evidence upload against a direct PutObject of the same bytes, approval and
// login against one argon2id hash and verification, and the server's peak
// memory during 50 concurrent 2 MB uploads.
//
// It starts a real MinIO (the bundled bin/minio), seeds the configured
// database in bulk through internal/demodata (SQLite in a temporary
// directory, or PostgreSQL when RD_DATABASE_URL is postgres://, which must
// then be an empty database), runs `recoverydesk serve` as a child process,
// and prints a Markdown table; without --quick it also writes it into
// docs/BENCHMARKS.md.
//
//	go run ./cmd/bench            # the full run (make bench)
//	go run ./cmd/bench --quick    # 10 000 cases, fewer rounds (CI)
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o benchOptions
	flag.BoolVar(&o.quick, "quick", false, "10 000 cases and fewer rounds: a check that the bench works (CI)")
	sizes := flag.String("sizes", "", "comma-separated case counts to measure the queue at (default 10000,100000,1000000; 10000 with --quick)")
	flag.StringVar(&o.out, "out", "", "write the report into this Markdown file (default docs/BENCHMARKS.md for a full run, none for --quick)")
	flag.StringVar(&o.serverBin, "server", "", "the recoverydesk binary to run (default: build ./cmd/recoverydesk)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (database, MinIO data, server log)")
	flag.StringVar(&o.db, "db", "sqlite", "sqlite, or postgres: RD_BENCH_POSTGRES_URL or "+defaultBenchPostgres+", dropped and created afresh")
	flag.IntVar(&o.instances, "instances", 1, "servers to run on the one database and MinIO; the clients spread their requests over them")
	flag.Parse()
	o.sizes = []int{10_000, 100_000, 1_000_000}
	if o.quick {
		o.sizes = []int{10_000}
	}
	if *sizes != "" {
		o.sizes = nil
		for _, f := range strings.Split(*sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 || (len(o.sizes) > 0 && n <= o.sizes[len(o.sizes)-1]) {
				fmt.Fprintln(os.Stderr, "bench: --sizes wants increasing positive numbers")
				os.Exit(2)
			}
			o.sizes = append(o.sizes, n)
		}
	}
	if o.db != "sqlite" && o.db != "postgres" {
		fmt.Fprintln(os.Stderr, "bench: --db is sqlite or postgres")
		os.Exit(2)
	}
	if o.out == "" && !o.quick {
		o.out = filepath.Join("docs", "BENCHMARKS.md")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	started := time.Now()
	rep, err := run(ctx, o, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	rep.took = time.Since(started)
	text := rep.markdown()
	fmt.Print(text)
	if o.out != "" {
		if err := writeReport(o.out, o.section(), text); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", o.out)
	}
}

// benchOptions are the command line.
type benchOptions struct {
	quick     bool
	sizes     []int
	out       string
	serverBin string
	keep      bool
	db        string
	instances int
}

// rounds is how often each operation is timed.
func (o benchOptions) rounds(full, quick int) int {
	if o.quick {
		return quick
	}
	return full
}

// buildServer builds ./cmd/recoverydesk into dir when no binary was given.
func buildServer(ctx context.Context, o benchOptions, dir string) (string, error) {
	if o.serverBin != "" {
		return filepath.Abs(o.serverBin)
	}
	bin := filepath.Join(dir, "recoverydesk")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/recoverydesk")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the server: %w", err)
	}
	return bin, nil
}

// section names the generated part of docs/BENCHMARKS.md a run rewrites:
// one per database and instance count, so the SQLite, PostgreSQL and
// three-instance tables stand side by side.
func (o benchOptions) section() string {
	if o.db == "sqlite" && o.instances <= 1 {
		return "" // the original section, <!-- bench:begin --> … <!-- bench:end -->
	}
	return fmt.Sprintf("%s-x%d", o.db, max(o.instances, 1))
}

// writeReport replaces the generated section of path (between its begin and
// end markers; to the end of the file when there is no end marker) with
// text, keeping everything else; a section not there yet is appended.
func writeReport(path, section, text string) error {
	begin, end := "<!-- bench:begin -->", "<!-- bench:end -->"
	if section != "" {
		begin, end = "<!-- bench:"+section+":begin -->", "<!-- bench:"+section+":end -->"
	}
	head := "# Benchmarks\n\n`make bench` measures the product against its physical baselines and rewrites the generated sections;\n" +
		"`go run ./cmd/bench --quick` (10 000 cases, run by CI) checks that the bench works without writing here.\n" +
		"How each figure is taken is explained under each table.\n\n"
	tail := ""
	if old, err := os.ReadFile(path); err == nil {
		head = string(old) + "\n"
		if i := strings.Index(string(old), begin); i >= 0 {
			head = string(old[:i])
			if j := strings.Index(string(old[i:]), end); j >= 0 {
				tail = string(old[i+j+len(end):])
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(head+begin+"\n\n"+text+"\n"+end+tail), 0o644)
}

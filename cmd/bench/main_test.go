package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteReportKeepsTheOtherSections: a run rewrites its own generated
// section only, so the SQLite, PostgreSQL and three-instance tables and the
// hand-written text around them all survive each other's runs; a section
// not there yet is appended.
func TestWriteReportKeepsTheOtherSections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	doc := "# Benchmarks\n\nintro\n\n<!-- bench:begin -->\n\nold sqlite\n\n<!-- bench:end -->\n\nbetween\n\n" +
		"<!-- bench:postgres-x1:begin -->\nold pg\n<!-- bench:postgres-x1:end -->\n\n## Load run\n\nhand-written\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct{ section, text string }{{"", "new sqlite"}, {"postgres-x1", "new pg"}, {"postgres-x3", "new pg x3"}} {
		if err := writeReport(path, w.section, w.text); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	for _, want := range []string{"intro", "new sqlite", "between", "new pg\n", "## Load run\n\nhand-written", "<!-- bench:postgres-x3:begin -->\n\nnew pg x3\n<!-- bench:postgres-x3:end -->"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	for _, gone := range []string{"old sqlite", "old pg"} {
		if strings.Contains(got, gone) {
			t.Errorf("%q still there:\n%s", gone, got)
		}
	}
}

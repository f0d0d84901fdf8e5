package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestVersionTextNamesCommitTimeModifiedAndGo(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "recoverydesk", Version: "v1.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "c6f77187bd8ca56885381f779450227289fd973c"},
			{Key: "vcs.time", Value: "2026-12-06T07:40:29Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "recoverydesk v1.4.0\ncommit:   c6f77187bd8ca56885381f779450227289fd973c\nbuilt:    2026-12-06T07:40:29Z (time of the commit)\nmodified: true\ngo:       go1.26.8\n"
	if got := versionText(info); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	info.Settings = nil
	if got := versionText(info); !strings.Contains(got, "commit:   unknown (built without VCS information)") || strings.Contains(got, "built:") {
		t.Fatalf("without VCS information:\n%s", got)
	}
}

// TestVersionOfABuiltBinary builds the real binary as `make build` does and
// asks it: in a git clone it names the checked-out commit and its time; the
// Go version is the toolchain's. (In a git worktree, whose .git is a file,
// the toolchain records no VCS information, and the binary says so.) The
// build uses the test's own flags, so it reuses the compiled packages; the
// static CGO_ENABLED=0 build of deploy/Containerfile is another set of
// them, too slow to compile here on every run.
func TestVersionOfABuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "recoverydesk")
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	got := string(out)
	if !strings.HasPrefix(got, "recoverydesk ") || !strings.Contains(got, "go:       "+runtime.Version()+"\n") {
		t.Fatalf("version:\n%s", got)
	}
	gitDir := filepath.Join("..", "..", ".git")
	fi, statErr := os.Stat(gitDir)
	head, gitErr := exec.Command("git", "rev-parse", "HEAD").Output()
	if statErr != nil || !fi.IsDir() || gitErr != nil {
		if !strings.Contains(got, "commit:   unknown (built without VCS information)") {
			t.Fatalf("outside a git clone the commit is unknown:\n%s", got)
		}
		return
	}
	if !strings.Contains(got, "commit:   "+strings.TrimSpace(string(head))+"\n") {
		t.Fatalf("version does not name HEAD %s:\n%s", head, got)
	}
	when, _ := exec.Command("git", "log", "-1", "--format=%cI").Output()
	ct, err := time.Parse(time.RFC3339, strings.TrimSpace(string(when)))
	if err != nil || !strings.Contains(got, "built:    "+ct.UTC().Format(time.RFC3339)+" ") {
		t.Fatalf("version does not name the commit time %s:\n%s", when, got)
	}
	dirty, _ := exec.Command("git", "status", "--porcelain").Output()
	if want := "modified: " + map[bool]string{true: "true", false: "false"}[len(strings.TrimSpace(string(dirty))) > 0]; !strings.Contains(got, want) {
		t.Fatalf("want %q:\n%s", want, got)
	}
}

package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"recoverydesk/internal/testenv"
)

// doctorLines runs doctor and returns its exit status and its lines by
// check name ("ok" or "FAIL" and the detail).
func doctorLines(t *testing.T, env []string) (int, map[string][2]string, string) {
	t.Helper()
	code, stdout, stderr := recoverydesk(t, env, "", "doctor")
	lines := map[string][2]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		status, rest, _ := strings.Cut(l, " ")
		name, detail, ok := strings.Cut(rest, ": ")
		if !ok || (status != "ok" && status != "FAIL") {
			t.Fatalf("line %q is not \"ok|FAIL name: detail\"\n%s%s", l, stdout, stderr)
		}
		lines[name] = [2]string{status, detail}
	}
	for _, name := range []string{"config", "secret", "database", "object store", "audit anchors", "sms"} {
		if _, ok := lines[name]; !ok {
			t.Fatalf("no %q line:\n%s%s", name, stdout, stderr)
		}
	}
	return code, lines, stdout + stderr
}

// secrets are values doctor must never print.
var doctorSecrets = []string{"s3cr3t-k3y-0f-th1rty-tw0-byt3s-xx", "m3tr1cs-t0k3n-abcdef", "gw-t0k3n-q", "gw-p4ss", "S3-SECRET-doctor"}

func assertNoSecrets(t *testing.T, out string) {
	t.Helper()
	for _, s := range doctorSecrets {
		if strings.Contains(out, s) {
			t.Errorf("doctor printed the secret %q:\n%s", s, out)
		}
	}
}

func TestDoctorPassesOnAMigratedInstallAndNeverPrintsSecrets(t *testing.T) {
	testenv.MinIOBinary(t)
	dir := t.TempDir()
	env := []string{"RD_DATA_DIR=" + dir, "RD_SECRET_KEY=" + doctorSecrets[0], "RD_METRICS_TOKEN=" + doctorSecrets[1],
		"RD_SMS_DRIVER=http", "RD_SMS_HTTP_URL=https://rd:" + doctorSecrets[3] + "@sms.example.cn/send?token=" + doctorSecrets[2]}
	// Before migrate: the database is not there yet.
	code, lines, out := doctorLines(t, env)
	if code != 1 || lines["database"][0] != "FAIL" || !strings.Contains(lines["database"][1], "recoverydesk migrate") {
		t.Fatalf("before migrate: exit %d\n%s", code, out)
	}
	assertNoSecrets(t, out)
	if c, _, stderr := recoverydesk(t, env, "", "migrate"); c != 0 {
		t.Fatalf("migrate: %d %s", c, stderr)
	}
	code, lines, out = doctorLines(t, env)
	if code != 0 {
		t.Fatalf("doctor on a migrated install: exit %d\n%s", code, out)
	}
	for name, l := range lines {
		if l[0] != "ok" {
			t.Errorf("%s: %v", name, l)
		}
	}
	for name, want := range map[string]string{"database": "schema up to date", "object store": "encryption at rest (SSE-S3) verified",
		"sms": "https://sms.example.cn", "secret": "RD_SECRET_KEY", "audit anchors": "object lock"} {
		if !strings.Contains(lines[name][1], want) {
			t.Errorf("%s: %q lacks %q", name, lines[name][1], want)
		}
	}
	assertNoSecrets(t, out)
	// The bundled MinIO doctor started for the check is gone with it.
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), filepath.Join(dir, "minio")) {
			t.Errorf("process %s still runs on the data dir: %q", e.Name(), cmdline)
		}
	}
}

func TestDoctorFailsEachBrokenPartOnItsOwnLine(t *testing.T) {
	dir := t.TempDir()
	// An empty database file: reachable, nothing migrated. An object store
	// that does not answer. The secret from its file.
	if err := os.WriteFile(filepath.Join(dir, "recoverydesk.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	env := []string{"RD_DATA_DIR=" + dir, "RD_S3_ENDPOINT=" + closed, "RD_S3_ACCESS_KEY=doctor", "RD_S3_SECRET_KEY=" + doctorSecrets[4], "RD_S3_TIMEOUT=1s"}
	code, lines, out := doctorLines(t, env)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	want := map[string]string{"config": "ok", "secret": "ok", "database": "FAIL", "object store": "FAIL", "audit anchors": "FAIL", "sms": "ok"}
	for name, status := range want {
		if lines[name][0] != status {
			t.Errorf("%s: %v, want %s", name, lines[name], status)
		}
	}
	if !strings.Contains(lines["database"][1], "not up to date") || !strings.Contains(lines["object store"][1], closed) {
		t.Errorf("details:\n%s", out)
	}
	assertNoSecrets(t, out)

	// A configuration that does not load: the variable is named, its value
	// (here a URL with a password) is not, and nothing else is checked.
	env = []string{"RD_DATA_DIR=" + dir, "RD_DATABASE_URL=mysql://rd:" + doctorSecrets[3] + "@db/x"}
	code, lines, out = doctorLines(t, env)
	if code != 1 || lines["config"][0] != "FAIL" || !strings.Contains(lines["config"][1], "RD_DATABASE_URL") ||
		lines["database"][1] != "not checked: the configuration is invalid" {
		t.Fatalf("bad configuration: exit %d\n%s", code, out)
	}
	assertNoSecrets(t, out)
}

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"recoverydesk/ent/staffuser"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/staff"
	"recoverydesk/policies"
)

// TestMain lets the test binary act as the recoverydesk binary, so the tests
// below observe real exit statuses and output of a real process.
func TestMain(m *testing.M) {
	if os.Getenv("RD_TEST_AS_BINARY") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// recoverydesk runs the binary with args, env and stdin, returning its exit
// status, stdout and stderr.
func recoverydesk(t *testing.T, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "RD_TEST_AS_BINARY=1"), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestBadConfigExits2WithOneLine(t *testing.T) {
	for _, cmd := range []string{"serve", "migrate"} {
		code, _, stderr := recoverydesk(t, []string{"RD_DATABASE_URL=mysql://x"}, "", cmd)
		if code != 2 {
			t.Fatalf("%s: exit %d, want 2 (stderr %q)", cmd, code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], "RD_DATABASE_URL") || !strings.Contains(lines[0], "sqlite://PATH or postgres://") {
			t.Fatalf("%s: stderr should be one line naming the variable and what is accepted: %q", cmd, stderr)
		}
	}
}

func TestBadAssignmentModeExits2(t *testing.T) {
	code, _, stderr := recoverydesk(t, []string{"RD_ASSIGNMENT=push"}, "", "migrate")
	if code != 2 || !strings.Contains(stderr, "RD_ASSIGNMENT") || !strings.Contains(stderr, "auto") {
		t.Fatalf("RD_ASSIGNMENT=push: exit %d, %q", code, stderr)
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"migrate", "--help"}, {"staff", "add", "--help"}, {"audit", "verify", "--help"}, {"audit", "--help"}, {"doctor", "--help"}, {"version", "--help"}} {
		code, _, stderr := recoverydesk(t, nil, "", args...)
		if code != 0 || !strings.Contains(stderr, "Usage: recoverydesk") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
	if code, _, _ := recoverydesk(t, nil, "", "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
}

func TestStaffAdd(t *testing.T) {
	dir := t.TempDir()
	env := []string{"RD_DATA_DIR=" + dir}
	code, stdout, stderr := recoverydesk(t, env, "", "staff", "add", "--username", "JM_Reviewer", "--name", "李审核", "--role", "reviewer", "--region", "4407")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "广东省 / 江门市") || !strings.Contains(stdout, "password (shown once") {
		t.Fatalf("stdout %q", stdout)
	}
	_, generated, _ := strings.Cut(stdout, "store it safely): ")
	generated = strings.TrimSpace(generated)
	if len(generated) < 12 {
		t.Fatalf("no generated password in %q", stdout)
	}

	code, _, stderr = recoverydesk(t, env, "Abcd2468!x\n", "staff", "add", "--username", "gd_super", "--name", "王主管", "--role", "supervisor", "--password-stdin")
	if code != 0 {
		t.Fatalf("supervisor: exit %d: %s", code, stderr)
	}
	// Taken name (case-insensitively), weak password, bad role: refused.
	if code, _, stderr = recoverydesk(t, env, "", "staff", "add", "--username", "jm_reviewer", "--name", "X", "--role", "reviewer"); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Fatalf("duplicate: exit %d %q", code, stderr)
	}
	if code, _, stderr = recoverydesk(t, env, "Q12345zz\n", "staff", "add", "--username", "weakling", "--name", "X", "--role", "reviewer", "--password-stdin"); code != 2 || !strings.Contains(stderr, "键盘") {
		t.Fatalf("weak password: exit %d %q", code, stderr)
	}
	if code, _, _ = recoverydesk(t, env, "", "staff", "add", "--username", "someone", "--name", "X", "--role", "boss"); code != 2 {
		t.Fatalf("bad role: exit %d", code)
	}

	// The database holds the users, their grants, and the audit entries.
	cfg, _ := config.Load(config.FromMap(map[string]string{"RD_DATA_DIR": dir}))
	ctx := t.Context()
	d, err := db.Open(ctx, cfg.DBKind, cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	u := d.Ent.StaffUser.Query().Where(staffuser.UsernameKey("jm_reviewer")).OnlyX(ctx)
	if u.Username != "JM_Reviewer" || strings.Contains(u.PasswordHash, generated) || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Fatalf("stored user %+v", u.Username)
	}
	enf, err := policies.NewEnforcer(ctx, d.Ent)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := enf.Allowed(policies.Subject("jm_reviewer"), "440703", policies.ObjCase, policies.ActDecide); err != nil || !ok {
		t.Fatalf("reviewer at 4407 cannot decide a 蓬江区 case (err %v)", err)
	}
	if ok, err := enf.Allowed(policies.Subject("jm_reviewer"), "440103", policies.ObjCase, policies.ActDecide); err != nil || ok {
		t.Fatalf("reviewer at 4407 can decide a 广州 case (err %v)", err)
	}
	if n := d.Ent.AuditEvent.Query().CountX(ctx); n != 2 {
		t.Fatalf("%d audit events, want 2", n)
	}
	// The printed and the stdin passwords are the ones stored.
	if err := cfg.EnsureSecret(); err != nil {
		t.Fatal(err)
	}
	keys, err := secret.New(cfg.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	staffSvc, err := staff.New(d, clock.Real{}, passhash.Hasher{Params: passhash.Testing}, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := staffSvc.SignIn(ctx, "jm_reviewer", generated, ""); err != nil {
		t.Errorf("jm_reviewer cannot sign in with the printed password: %v", err)
	}
	if _, err := staffSvc.SignIn(ctx, "gd_super", "Abcd2468!x", ""); err != nil {
		t.Errorf("gd_super cannot sign in with the stdin password: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "recoverydesk.db")); err != nil {
		t.Fatal(err)
	}
}

func TestSeedDemoCreatesLoginsThatWork(t *testing.T) {
	dir := t.TempDir()
	env := []string{"RD_DATA_DIR=" + dir}
	code, stdout, stderr := recoverydesk(t, env, "", "seed", "--demo")
	if code != 0 || !strings.Contains(stdout, demoPassword) || !strings.Contains(stdout, "jm_rencai") {
		t.Fatalf("seed: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, _ = recoverydesk(t, env, "", "seed", "--demo"); code != 1 {
		t.Fatalf("seeding a non-empty database: exit %d", code)
	}
	cfg, _ := config.Load(config.FromMap(map[string]string{"RD_DATA_DIR": dir}))
	ctx := t.Context()
	d, err := db.Open(ctx, cfg.DBKind, cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := cfg.EnsureSecret(); err != nil {
		t.Fatal(err)
	}
	keys, _ := secret.New(cfg.SecretKey)
	d.SealWith(keys) // the seeded ID and phone numbers are sealed under the generated key
	svc, err := seedAccountsService(d, cfg.SecretKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range demoPeople {
		if _, err := svc.Login(ctx, accounts.Credentials{Kind: "person", Username: p.username, Password: demoPassword}); err != nil {
			t.Errorf("demo person %s cannot log in: %v", p.username, err)
		}
		if p.unitUser == "" {
			continue
		}
		if _, err := svc.Login(ctx, accounts.Credentials{Kind: "unit", Username: p.unitUser, Password: demoPassword}); err != nil {
			t.Errorf("demo unit %s cannot log in: %v", p.unitUser, err)
		}
	}
	staffSvc, err := staff.New(d, clock.Real{}, passhash.Hasher{Params: passhash.Testing}, keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	enf, err := policies.NewEnforcer(ctx, d.Ent)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range demoStaff {
		if _, err := staffSvc.SignIn(ctx, st.username, demoPassword, ""); err != nil {
			t.Errorf("demo staff %s cannot sign in: %v", st.username, err)
		}
		if got := enf.RolesOf(policies.Subject(st.username)); len(got) != 1 || got[0].Role != st.role || got[0].Region != st.region {
			t.Errorf("demo staff %s roles %v", st.username, got)
		}
	}
	if !strings.Contains(stdout, "/console/login") || !strings.Contains(stdout, "gd_super") {
		t.Errorf("seed output lacks the staff logins:\n%s", stdout)
	}
}

// Package deploy holds the deployment units (systemd, container, nginx);
// its tests read them as the tools would and check them against the
// product: the Makefile's pinned MinIO, the configuration's defaults, the
// app's body limit.
package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"recoverydesk/internal/config"
	"recoverydesk/internal/imagecheck"
)

// makeVar reads a variable of the Makefile (NAME := value).
func makeVar(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + name + `\s*:?=\s*(\S+)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no %s in the Makefile", name)
	}
	return string(m[1])
}

// stage is one build stage of the Containerfile: its FROM line's image and
// name, and its instructions (continuation lines joined).
type stage struct {
	from, name string
	lines      []string
}

func parseContainerfile(t *testing.T) (args map[string]string, stages []*stage) {
	t.Helper()
	f, err := os.Open("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	args = map[string]string{}
	var joined []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, `\`) {
			cur.WriteString(strings.TrimSuffix(l, `\`) + " ")
			continue
		}
		cur.WriteString(l)
		joined = append(joined, cur.String())
		cur.Reset()
	}
	for _, l := range joined {
		instr, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			f := strings.Fields(rest)
			s := &stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			if len(stages) == 0 {
				args[k] = v
			} else {
				stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, l)
			}
		default:
			if len(stages) == 0 {
				t.Fatalf("instruction before FROM: %s", l)
			}
			stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, l)
		}
	}
	return args, stages
}

func (s *stage) has(re string) string {
	r := regexp.MustCompile(re)
	for _, l := range s.lines {
		if m := r.FindStringSubmatch(l); m != nil {
			return m[len(m)-1]
		}
	}
	return ""
}

func TestContainerfileBuildsTheStaticBinaryAndThePinnedMinIO(t *testing.T) {
	args, stages := parseContainerfile(t)
	if len(stages) != 3 {
		t.Fatalf("want 3 stages (build, minio, final), got %d", len(stages))
	}
	build, minio, final := stages[0], stages[1], stages[2]
	if build.name != "build" || minio.name != "minio" || final.name != "" {
		t.Fatalf("stage names %q %q %q", build.name, minio.name, final.name)
	}
	// The Go of the build stages is the go.mod's.
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	for _, s := range []*stage{build, minio} {
		if s.from != "golang:${GO_VERSION}-bookworm" {
			t.Errorf("stage %s FROM %s, want golang:${GO_VERSION}-bookworm", s.name, s.from)
		}
	}
	if goLine == nil || args["GO_VERSION"] != string(goLine[1]) {
		t.Errorf("ARG GO_VERSION=%s, go.mod says go %s", args["GO_VERSION"], goLine[1])
	}
	// recoverydesk: static, from ./cmd/recoverydesk.
	if out := build.has(`^RUN CGO_ENABLED=0 go build .*-o (\S+) \./cmd/recoverydesk$`); out != "/out/recoverydesk" {
		t.Errorf("build stage does not build ./cmd/recoverydesk with CGO_ENABLED=0 into /out/recoverydesk: %v", build.lines)
	}
	// MinIO: the Makefile's pinned version.
	if v, want := minio.has(`^ARG MINIO_VERSION=(\S+)$`), makeVar(t, "MINIO_VERSION"); v != want {
		t.Errorf("Containerfile MINIO_VERSION=%q, Makefile %q", v, want)
	}
	if minio.has(`^RUN CGO_ENABLED=0 GOBIN=/out go install .*(`+regexp.QuoteMeta(makeVar(t, "MINIO_MODULE"))+`@\$\{MINIO_VERSION\})$`) == "" {
		t.Errorf("minio stage does not install %s@${MINIO_VERSION}: %v", makeVar(t, "MINIO_MODULE"), minio.lines)
	}
	// The image: both binaries, a non-root user, the state volume, and the
	// bundled MinIO found where RD_MINIO_BIN says.
	if final.from != "scratch" {
		t.Errorf("final FROM %s", final.from)
	}
	if final.has(`^COPY --from=build /out/recoverydesk (/usr/local/bin/recoverydesk)$`) == "" {
		t.Errorf("final stage lacks the recoverydesk binary: %v", final.lines)
	}
	minioPath := final.has(`^COPY --from=minio /out/minio (\S+)$`)
	if minioPath == "" || final.has(`RD_MINIO_BIN=(\S+)`) != minioPath {
		t.Errorf("MinIO copied to %q, RD_MINIO_BIN=%q", minioPath, final.has(`RD_MINIO_BIN=(\S+)`))
	}
	if u := final.has(`^USER (\S+)$`); u == "" || u == "root" || strings.HasPrefix(u, "0:") || u == "0" {
		t.Errorf("USER %q: the image must run as a non-root user", u)
	}
	if final.has(`RD_DATA_DIR=(/var/lib/recoverydesk)`) == "" || final.has(`^VOLUME \["(/var/lib/recoverydesk)"\]$`) == "" {
		t.Errorf("state: RD_DATA_DIR and VOLUME /var/lib/recoverydesk: %v", final.lines)
	}
	if final.has(`^ENTRYPOINT \["(/usr/local/bin/recoverydesk)"\]$`) == "" || final.has(`^CMD \["(serve)"\]$`) == "" {
		t.Errorf("entrypoint: %v", final.lines)
	}
	// The state directory exists in the image, owned by the user.
	if build.has(`(chown 10001:10001 /rootfs/var/lib/recoverydesk)`) == "" || final.has(`^USER (10001:10001)$`) == "" {
		t.Errorf("the state directory is not the user's: %v", build.lines)
	}
}

// unitKeys reads a systemd unit: every key of every section, in order.
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "["):
			section = strings.Trim(l, "[]")
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("not key=value: %q", l)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

const unitPath = "systemd/recoverydesk.service"

func TestSystemdUnitIsHardenedAndOutlastsTheShutdown(t *testing.T) {
	u := unitKeys(t, unitPath)
	want := map[string]string{
		"Service.ExecStart":             "/usr/local/bin/recoverydesk serve",
		"Service.EnvironmentFile":       "/etc/recoverydesk/env",
		"Service.StateDirectory":        "recoverydesk",
		"Service.ProtectSystem":         "strict",
		"Service.NoNewPrivileges":       "yes",
		"Service.PrivateTmp":            "yes",
		"Service.ProtectHome":           "yes",
		"Service.KillMode":              "mixed",
		"Install.WantedBy":              "multi-user.target",
		"Service.CapabilityBoundingSet": "",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// Its own user: allocated by systemd, or a named system user.
	if !slices.Equal(u["Service.DynamicUser"], []string{"yes"}) && !slices.Equal(u["Service.User"], []string{"recoverydesk"}) {
		t.Errorf("the service needs its own user (DynamicUser=yes or User=recoverydesk)")
	}
	if !slices.Contains(u["Service.Environment"], "RD_DATA_DIR=/var/lib/recoverydesk") {
		t.Errorf("RD_DATA_DIR is not the StateDirectory: %v", u["Service.Environment"])
	}
	families := strings.Fields(strings.Join(u["Service.RestrictAddressFamilies"], " "))
	slices.Sort(families)
	if !slices.Equal(families, []string{"AF_INET", "AF_INET6", "AF_UNIX"}) {
		t.Errorf("RestrictAddressFamilies %v", families)
	}
	// systemd must wait for serve's whole shutdown with the default
	// configuration: the grace period, then the SMS worker's last try.
	cfg, err := config.Load(config.FromMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	stop, err := time.ParseDuration(strings.Join(u["Service.TimeoutStopSec"], ""))
	if need := cfg.ShutdownGrace + cfg.SMSTimeout + config.SMSTrySlack; err != nil || stop <= need {
		t.Errorf("TimeoutStopSec=%v (%v), want more than RD_SHUTDOWN_GRACE + RD_SMS_TIMEOUT + slack = %v", u["Service.TimeoutStopSec"], err, need)
	}

	// systemd's own reading of the unit, where systemd is installed. verify
	// insists that ExecStart exists: a copy points it at an executable
	// that does, and nothing else changes.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed: the unit was checked by parsing only")
	}
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "recoverydesk.service")
	if err := os.WriteFile(copyPath, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/recoverydesk ", self+" ")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The exposure score systemd computes from the hardening keys (0–100,
	// lower is safer; 16 at the time of writing, "OK").
	if out, err := exec.Command(analyze, "security", "--offline=yes", "--threshold=25", copyPath).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security above 2.5: %v\n%s", err, out[max(0, len(out)-300):])
	}
}

// nginxDirectives reads the directives of the nginx file, in order.
func nginxDirectives(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile("nginx/recoverydesk.conf")
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for _, l := range strings.Split(string(b), "\n") {
		l, _, _ = strings.Cut(l, "#")
		l = strings.TrimSpace(l)
		if l == "" || strings.HasSuffix(l, "{") || l == "}" {
			continue
		}
		out = append(out, strings.Fields(strings.TrimSuffix(l, ";")))
	}
	return out
}

func TestNginxSetsTheForwardedHeadersAndLetsTheAppAnswerUploads(t *testing.T) {
	ds := nginxDirectives(t)
	has := func(want ...string) bool {
		return slices.ContainsFunc(ds, func(d []string) bool { return slices.Equal(d, want) })
	}
	// What RD_TRUSTED_PROXIES believes: X-Forwarded-For appended to (the app
	// takes the rightmost untrusted address), X-Forwarded-Proto always set.
	for _, want := range [][]string{
		{"proxy_set_header", "X-Forwarded-For", "$proxy_add_x_forwarded_for"},
		{"proxy_set_header", "X-Forwarded-Proto", "$scheme"},
		{"proxy_set_header", "Host", "$host"},
		{"proxy_pass", "http://recoverydesk"},
	} {
		if !has(want...) {
			t.Errorf("no %v", want)
		}
	}
	// Uploads up to the app's own limit reach the app, which answers a
	// larger one with its JSON 413.
	appLimit := imagecheck.MaxBytes + 64<<10
	for _, d := range ds {
		switch d[0] {
		case "client_max_body_size":
			n, err := strconv.Atoi(strings.TrimSuffix(d[1], "m"))
			if err != nil || n<<20 <= appLimit {
				t.Errorf("client_max_body_size %s: must exceed the app's %d bytes", d[1], appLimit)
			}
		case "proxy_read_timeout":
			if d, err := time.ParseDuration(d[1]); err != nil || d <= 60*time.Second {
				t.Errorf("proxy_read_timeout %v: must outlast the app's 60 s write timeout", d)
			}
		}
	}
	if !slices.ContainsFunc(ds, func(d []string) bool { return d[0] == "client_max_body_size" }) {
		t.Error("no client_max_body_size (nginx's default 1m refuses a 2 MB image)")
	}
	if !has("return", "404") {
		t.Error("/dev/ and /metrics are not closed to the outside")
	}
}

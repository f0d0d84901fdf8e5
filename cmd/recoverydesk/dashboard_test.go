package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"recoverydesk/internal/testenv"
)

// Where the operator's dashboard and alert rules live.
var (
	grafanaDashboard = filepath.Join("..", "..", "deploy", "grafana", "recoverydesk.json")
	alertRules       = filepath.Join("..", "..", "deploy", "prometheus", "alerts.yml")
)

// externalMetrics are the series a rule or panel may query that Prometheus
// or its blackbox exporter produce, not recoverydesk's /metrics.
var externalMetrics = map[string]bool{"up": true, "probe_success": true}

// dashboardExprs reads every PromQL expression of the Grafana dashboard.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile(grafanaDashboard)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("%s does not parse: %v", grafanaDashboard, err)
	}
	var out []string
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	if dash.Title == "" || len(out) < 10 {
		t.Fatalf("dashboard %q has %d queries", dash.Title, len(out))
	}
	return out
}

// alertExprs reads every rule's expression from the alert rules.
func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(alertRules)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s does not parse: %v", alertRules, err)
	}
	out := map[string]string{}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			out[r.Alert] = r.Expr
		}
	}
	return out
}

var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promDurations = regexp.MustCompile(`\b\d+(?:ms|s|m|h|d|w|y)\b`)
	promIdent     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promKeywords  = map[string]bool{"offset": true, "bool": true, "and": true, "or": true, "unless": true}
)

// metricNames extracts the metric names a PromQL expression selects: every
// identifier left once strings, label matchers, ranges, groupings and
// durations are removed, that is neither a function call nor a keyword.
func metricNames(expr string) []string {
	s := promStrings.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	s = promDurations.ReplaceAllString(s, " ")
	var out []string
	for _, m := range promIdent.FindAllStringSubmatch(s, -1) {
		name := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m[0]), "("))
		if m[1] != "" || promKeywords[name] {
			continue
		}
		out = append(out, name)
	}
	return out
}

func TestMetricNamesAreReadOutOfPromQL(t *testing.T) {
	got := metricNames(`histogram_quantile(0.95, sum by (le, route) (rate(recoverydesk_http_request_duration_seconds_bucket{route=~"/api.*"}[5m]))) > 1
		and max(sum by (instance) (recoverydesk_cases_overdue offset 1h)) > bool 0 or time() - max(up{job="x"})`)
	want := []string{"recoverydesk_http_request_duration_seconds_bucket", "recoverydesk_cases_overdue", "up"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("metricNames = %v, want %v", got, want)
	}
}

// scrapedNames starts serve and reads the sample names its /metrics shows.
func scrapedNames(t *testing.T) map[string]bool {
	t.Helper()
	addr, _, _ := startServe(t, "RD_HASH_CONCURRENCY=2")
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		names[name] = true
	}
	return names
}

// TestDashboardAndAlertsQueryWhatServeExports starts the server, scrapes
// /metrics, and checks that every metric the Grafana dashboard and the
// alert rules query is there (series of every fixed label set start at
// zero, so they exist before the first event), and that the alerts the
// operator needs are all defined.
func TestDashboardAndAlertsQueryWhatServeExports(t *testing.T) {
	dash := dashboardExprs(t)
	alerts := alertExprs(t)
	for _, name := range []string{"RecoverydeskSLABreachesRising", "RecoverydeskSMSFailing", "RecoverydeskJobsStuck",
		"RecoverydeskNotReady", "RecoverydeskAuditChainBroken"} {
		if alerts[name] == "" {
			t.Errorf("alert %s is missing", name)
		}
	}
	exported := scrapedNames(t)
	for _, want := range []string{"recoverydesk_cases_overdue", "recoverydesk_decisions_total", "recoverydesk_sms_outcomes_total",
		"recoverydesk_jobs_oldest_queued_age_seconds", "recoverydesk_hash_wait_seconds_bucket", "recoverydesk_audit_chain_ok"} {
		if !exported[want] {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	check := func(where, expr string) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric in %q", where, expr)
		}
		for _, n := range names {
			if !exported[n] && !externalMetrics[n] {
				t.Errorf("%s queries %s, which /metrics does not export", where, n)
			}
		}
	}
	for _, e := range dash {
		check("dashboard", e)
	}
	names := make([]string, 0, len(alerts))
	for n := range alerts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		check("alert "+n, alerts[n])
	}
}

// TestAlertRulesPassPromtool runs Prometheus's own checker on the rules
// (Debian's prometheus package; required in CI).
func TestAlertRulesPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		testenv.Missing(t, "promtool (Debian package prometheus)")
	}
	out, err := exec.Command(promtool, "check", "rules", alertRules).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

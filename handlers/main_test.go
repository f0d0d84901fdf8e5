package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/handlers"
	"recoverydesk/internal/accounts"
	"recoverydesk/internal/clock"
	"recoverydesk/internal/config"
	"recoverydesk/internal/db"
	"recoverydesk/internal/jobs"
	"recoverydesk/internal/passhash"
	"recoverydesk/internal/recovery"
	"recoverydesk/internal/secret"
	"recoverydesk/internal/services"
	"recoverydesk/internal/sms"
	"recoverydesk/internal/staff"
	"recoverydesk/internal/testenv"
	"recoverydesk/policies"
	"recoverydesk/storage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// testServer is the whole HTTP app on real parts: a fresh database, a real
// MinIO bucket, the SMS courier with its worker, and an adjustable clock.
type testServer struct {
	app      *fiber.App
	db       *db.DB
	clock    *clock.Adjustable
	courier  *sms.Courier
	outbox   *sms.Outbox
	accounts *accounts.Service
	recovery *recovery.Service
	staff    *staff.Service
	enforcer *policies.Enforcer
	store    *storage.Store
	logs     *bytes.Buffer
	// apiSeen are the /api/v1 operations and statuses whose answers
	// matched the OpenAPI document (checkAPIAnswer).
	apiSeen *apiSeen
}

type serverOption func(*handlers.Deps)

func devMode(d *handlers.Deps) { d.Config.Dev = true }

func withEvidence(p handlers.Pinger) serverOption {
	return func(d *handlers.Deps) { d.Evidence = p }
}

// qaSample sets the share of decisions drawn for QA (RD_QA_SAMPLE_PERCENT).
func qaSample(percent int) serverOption {
	return func(d *handlers.Deps) { d.Config.QASamplePercent = percent }
}

// assignAuto sets RD_ASSIGNMENT=auto (the product's default).
func assignAuto(d *handlers.Deps) { d.Config.Assignment = config.AssignAuto }

// hotline sets RD_HOTLINE.
func hotline(v string) serverOption {
	return func(d *handlers.Deps) {
		h, err := config.ParseHotline(v)
		if err != nil {
			panic(err)
		}
		d.Config.Hotline = h
	}
}

func newTestServer(t testing.TB, opts ...serverOption) *testServer {
	t.Helper()
	return newTestServerOn(t, testenv.SQLite(t), opts...)
}

// newTestServerOn builds the test server on a given database (see
// testenv.ForEachDB for tests that must hold on PostgreSQL too).
func newTestServerOn(t testing.TB, d *db.DB, opts ...serverOption) *testServer {
	t.Helper()
	ctx := context.Background()
	keys, err := secret.New(bytes.Repeat([]byte("t"), 32))
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	clk := clock.NewAdjustable()
	// The handler suites were written against pull (reviewers claim from
	// the queue, CONTRACT §7 RD_ASSIGNMENT=pull); the tests of auto-
	// assignment ask for it with assignAuto.
	cfg, err := config.Load(config.FromMap(map[string]string{"RD_ASSIGNMENT": string(config.AssignPull)}))
	if err != nil {
		t.Fatal(err)
	}
	// The options see the configuration first: the services read it too.
	pre := handlers.Deps{Config: cfg}
	for _, o := range opts {
		o(&pre)
	}
	cfg = pre.Config
	// withEvidence(a *storage.Store) makes it the store the services use
	// too (a server a test stops or freezes); otherwise a fresh bucket.
	store, ok := pre.Evidence.(*storage.Store)
	if !ok {
		store = testenv.MinIO(t)
	}
	svc, err := services.New(services.Options{DB: d, Keys: keys, Clock: clk, Hasher: passhash.Hasher{Params: passhash.Testing},
		Store: store, QASamplePercent: cfg.QASamplePercent, Hotline: cfg.Hotline.Text, AutoAssign: cfg.Assignment == config.AssignAuto, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	// Only the SMS worker runs: tests call the periodic clean-ups themselves,
	// at the moment of the (adjustable) clock they need.
	runner, err := jobs.Start(ctx, d, logger, jobs.Deps{Courier: svc.Courier}, jobs.Options{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runner.Stop(context.Background()) })
	enforcer, err := policies.NewEnforcer(ctx, d.Ent)
	if err != nil {
		t.Fatal(err)
	}
	deps := handlers.Deps{Config: cfg, DB: d, Clock: clk, DevClock: clk, Courier: svc.Courier, Outbox: svc.Outbox, Accounts: svc.Accounts,
		Recovery: svc.Recovery, Staff: svc.Staff, Dashboard: svc.Dashboard, Enforcer: enforcer, Logger: logger}
	for _, o := range opts {
		o(&deps)
	}
	if deps.Evidence == nil {
		deps.Evidence = store
	}
	app, err := handlers.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{app: app, db: d, clock: clk, courier: svc.Courier, outbox: svc.Outbox, accounts: svc.Accounts,
		recovery: svc.Recovery, staff: svc.Staff, enforcer: enforcer, store: store, logs: logs, apiSeen: &apiSeen{}}
}

// do sends a request through the app and returns the response and its
// body. An answer of the JSON API is checked against the OpenAPI document
// on the way (checkAPIAnswer).
func (s *testServer) do(t testing.TB, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := s.app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	s.checkAPIAnswer(t, req, resp, string(b))
	return resp, string(b)
}

func (s *testServer) get(t testing.TB, path string) (*http.Response, string) {
	t.Helper()
	return s.do(t, httptest.NewRequest(http.MethodGet, path, nil))
}

func (s *testServer) postJSON(t testing.TB, path, body string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return s.do(t, req)
}

// apiError is the JSON error envelope of CONTRACT §4.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
		TraceID string `json:"trace_id"`
	} `json:"error"`
}

func decodeError(t testing.TB, body string) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not a JSON error envelope: %v\n%s", err, body)
	}
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error envelope without code or message: %s", body)
	}
	return e
}

type fiberCtx = fiber.Ctx

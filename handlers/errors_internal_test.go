package handlers

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/passhash"
)

// A hash refused for want of a slot is 503 busy with Retry-After, in the
// JSON envelope under /api and on a page elsewhere.
func TestBusyHashingIs503WithRetryAfter(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: errorHandler(slog.New(slog.NewTextHandler(io.Discard, nil)))})
	busy := func(*fiber.Ctx) error { return fmt.Errorf("login: %w", passhash.ErrBusy) }
	app.Post("/api/v1/login", busy)
	app.Post("/login", busy)

	resp, err := app.Test(httptest.NewRequest("POST", "/api/v1/login", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			RetryAfter int    `json:"retry_after"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || env.Error.Code != "busy" || env.Error.RetryAfter != busyRetryAfter ||
		resp.Header.Get("Retry-After") != fmt.Sprint(busyRetryAfter) || resp.Header.Get("X-Request-Id") == "" {
		t.Fatalf("API: %d %+v Retry-After %q", resp.StatusCode, env, resp.Header.Get("Retry-After"))
	}
	// A page: 503 with Retry-After too.
	resp, err = app.Test(httptest.NewRequest("POST", "/login", nil), -1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "请求编号") {
		t.Fatalf("page: %d Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}

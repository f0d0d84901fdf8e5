package handlers

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
)

// perIP limits how often one client address may call a group of endpoints.
// Counters live in the database (kvstore), so every instance shares them.
// Per-account and per-phone limits are domain rules (lockout, SMS quota).
func perIP(storage fiber.Storage, name string, max int, window time.Duration) fiber.Handler {
	return limiter.New(limiter.Config{
		Max:        max,
		Expiration: window,
		Storage:    storage,
		KeyGenerator: func(c *fiber.Ctx) string {
			return name + ":" + c.IP()
		},
		LimitReached: func(c *fiber.Ctx) error {
			secs, _ := strconv.Atoi(string(c.Response().Header.Peek(fiber.HeaderRetryAfter)))
			return &APIError{Status: fiber.StatusTooManyRequests, Code: "rate_limited",
				Message: "操作过于频繁，请稍后再试", Extra: map[string]any{"retry_after": secs}}
		},
	})
}

package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/kvstore"
)

// errPerIPLimit refuses a client over its per-IP limit; each refusal is a
// copy with its retry_after.
var errPerIPLimit = &APIError{Status: fiber.StatusTooManyRequests, Code: "rate_limited", Message: "操作过于频繁，请稍后再试"}

// perIP limits how often one client address (clientIP: behind a trusted
// proxy, the forwarded one) may call a group of endpoints: at most limit
// calls per fixed window. Each call is one atomic hit on a counter in the
// database, so several instances share the limit exactly. Per-account and
// per-phone limits are domain rules (lockout, SMS quota).
func perIP(counters *kvstore.Counters, name string, limit int, window time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		hits, left, err := counters.Hit(c.UserContext(), name+":"+clientIP(c), window)
		if err != nil {
			return err
		}
		if hits > limit {
			e := *errPerIPLimit
			e.Extra = map[string]any{"retry_after": int(left / time.Second)}
			return &e
		}
		return c.Next()
	}
}

package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/sms"
)

// devSMS lists delivered messages from the outbox, newest first, so a person
// or a test can read codes and passwords without a gateway.
func (s *Server) devSMS(c *fiber.Ctx) error {
	if s.deps.Outbox == nil {
		return &APIError{Status: fiber.StatusNotFound, Code: "no_outbox", Message: "当前短信通道不是 outbox，没有可显示的短信"}
	}
	msgs, err := s.deps.Outbox.Messages(c.UserContext(), c.Query("phone"), 200)
	if err != nil {
		return err
	}
	if msgs == nil {
		msgs = []sms.Message{}
	}
	return c.JSON(fiber.Map{"messages": msgs})
}

// clockView is the body of /dev/clock.
type clockView struct {
	Now time.Time `json:"now"`
}

func (s *Server) devClockGet(c *fiber.Ctx) error {
	return c.JSON(clockView{Now: s.deps.Clock.Now()})
}

// devClockSet moves the application clock: {"advance":"4h"} or
// {"set":"2026-09-30T10:00:00+08:00"}.
func (s *Server) devClockSet(c *fiber.Ctx) error {
	var body struct {
		Advance string `json:"advance"`
		Set     string `json:"set"`
	}
	if err := c.BodyParser(&body); err != nil {
		return &APIError{Status: fiber.StatusBadRequest, Code: "bad_request", Message: "请求体应为 JSON：{\"advance\":\"4h\"} 或 {\"set\":\"RFC 3339 时间\"}"}
	}
	if s.deps.DevClock == nil {
		return fiber.ErrNotFound
	}
	switch {
	case body.Advance != "" && body.Set == "":
		d, err := time.ParseDuration(body.Advance)
		if err != nil {
			return &APIError{Status: fiber.StatusUnprocessableEntity, Code: "invalid_duration", Message: "advance 应为时长，例如 4h、30m", Field: "advance"}
		}
		if err := s.deps.DevClock.AdvanceShared(c.UserContext(), d); err != nil {
			return err
		}
	case body.Set != "" && body.Advance == "":
		t, err := time.Parse(time.RFC3339, body.Set)
		if err != nil {
			return &APIError{Status: fiber.StatusUnprocessableEntity, Code: "invalid_time", Message: "set 应为 RFC 3339 时间，例如 2026-09-30T10:00:00+08:00", Field: "set"}
		}
		if err := s.deps.DevClock.SetShared(c.UserContext(), t); err != nil {
			return err
		}
	default:
		return &APIError{Status: fiber.StatusUnprocessableEntity, Code: "invalid_clock_change", Message: "请只提供 advance 或 set 其中之一"}
	}
	return c.JSON(clockView{Now: s.deps.Clock.Now()})
}

package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/internal/apperr"
	"recoverydesk/internal/imagecheck"
	"recoverydesk/internal/passhash"
	"recoverydesk/storage"
)

// APIError is an error with everything a client needs: the HTTP status, a
// stable snake_case code for programs, a Chinese message for people, the
// field it concerns, and extra members (attempts_left, retry_after, …).
type APIError struct {
	Status  int
	Code    string
	Message string
	Field   string
	Extra   map[string]any
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// errorBody is the JSON envelope of CONTRACT §4.
func (e *APIError) errorBody(traceID string) fiber.Map {
	body := fiber.Map{"code": e.Code, "message": e.Message}
	if e.Field != "" {
		body["field"] = e.Field
	}
	for k, v := range e.Extra {
		body[k] = v
	}
	if e.Status >= 500 {
		body["trace_id"] = traceID
	}
	return fiber.Map{"error": body}
}

// statusErrors gives the code and message of errors raised by Fiber itself
// (unknown route, wrong method, oversized body, …).
var statusErrors = map[int][2]string{
	http.StatusBadRequest:                  {"bad_request", "请求格式不正确"},
	http.StatusUnauthorized:                {"unauthorized", "请先登录"},
	http.StatusForbidden:                   {"forbidden", "没有权限执行此操作"},
	http.StatusNotFound:                    {"not_found", "请求的页面或资源不存在"},
	http.StatusMethodNotAllowed:            {"method_not_allowed", "不支持该请求方式"},
	http.StatusRequestEntityTooLarge:       {"file_too_large", imagecheck.Message(imagecheck.ErrTooLarge)},
	http.StatusUnsupportedMediaType:        {"unsupported_type", "不支持的内容类型"},
	http.StatusTooManyRequests:             {"rate_limited", "操作过于频繁，请稍后再试"},
	http.StatusRequestTimeout:              {"request_timeout", "请求发送超时，请检查网络后重试"},
	http.StatusRequestHeaderFieldsTooLarge: {"headers_too_large", "请求的网址或请求头过长"},
	http.StatusRequestURITooLong:           {"uri_too_long", "请求的网址过长"},
	http.StatusServiceUnavailable:          {"unavailable", "服务暂不可用，请稍后再试"},
}

// kindStatus maps each kind of domain refusal to its HTTP status, once.
var kindStatus = map[apperr.Kind]int{
	apperr.Invalid:      fiber.StatusUnprocessableEntity,
	apperr.NotFound:     fiber.StatusNotFound,
	apperr.Conflict:     fiber.StatusConflict,
	apperr.Unauthorized: fiber.StatusUnauthorized,
	apperr.Forbidden:    fiber.StatusForbidden,
	apperr.Locked:       fiber.StatusLocked,
	apperr.Gone:         fiber.StatusGone,
	apperr.RateLimited:  fiber.StatusTooManyRequests,
	apperr.TooLarge:     fiber.StatusRequestEntityTooLarge,
	apperr.Unsupported:  fiber.StatusUnsupportedMediaType,
	apperr.BadRequest:   fiber.StatusBadRequest,
}

// errStorageUnavailable is what a user sees when the evidence store does
// not answer in time (storage.ErrUnavailable): a 503 worth retrying.
var errStorageUnavailable = &APIError{Status: fiber.StatusServiceUnavailable, Code: "storage_unavailable",
	Message: "证件照存储服务暂时无法访问，请稍后重试"}

// busyRetryAfter is the Retry-After (seconds) of a 503 busy: about one
// MaxWait, by when the burst that filled the hashing slots has usually passed.
const busyRetryAfter = 2

// errBusy is what a caller sees when every password-hashing slot stayed
// taken (passhash.ErrBusy): the server sheds the request instead of queueing
// it, and says when to try again.
var errBusy = &APIError{Status: fiber.StatusServiceUnavailable, Code: "busy",
	Message: "系统繁忙，请稍后重试", Extra: map[string]any{"retry_after": busyRetryAfter}}

// errInternal is every error the client is not told about.
var errInternal = &APIError{Status: fiber.StatusInternalServerError, Code: "internal_error", Message: "服务器内部错误，请稍后重试"}

// toAPIError maps any error to what the client sees. Unknown errors are
// internal: the client gets a generic 500, never err.Error().
func toAPIError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, storage.ErrUnavailable) {
		return errStorageUnavailable
	}
	if errors.Is(err, passhash.ErrBusy) {
		return errBusy
	}
	if de, ok := apperr.As(err); ok {
		if status, known := kindStatus[de.Kind]; known {
			out := &APIError{Status: status, Code: de.Code, Message: de.Message, Field: de.Field, Extra: de.Extra}
			if len(de.Fields) > 1 {
				out.Extra = withFields(de.Extra, de.Fields)
			}
			return out
		}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		if m, ok := statusErrors[fe.Code]; ok {
			return &APIError{Status: fe.Code, Code: m[0], Message: m[1]}
		}
		if fe.Code < 500 {
			return &APIError{Status: fe.Code, Code: "request_error", Message: "请求无法处理"}
		}
	}
	return errInternal
}

func withFields(extra map[string]any, fields []apperr.FieldError) map[string]any {
	out := make(map[string]any, len(extra)+1)
	for k, v := range extra {
		out[k] = v
	}
	out["fields"] = fields
	return out
}

// wantsJSON reports whether the client of this path is a program: the JSON
// API, the dev helpers, and the operations endpoints (probes, metrics).
func wantsJSON(c *fiber.Ctx) bool {
	return jsonPath(c.Path())
}

func jsonPath(p string) bool {
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/dev/") || p == "/api" || p == "/dev" ||
		p == metricsPath || p == "/healthz" || p == "/readyz"
}

// errorHandler is the one place errors become responses: the JSON envelope
// under /api (and /dev), a Chinese HTML page with the request id elsewhere.
// Internal errors are logged with the request id and never shown.
func errorHandler(logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		ensureOwnHeaders(c)
		ae := toAPIError(err)
		rid := requestID(c)
		if secs, ok := ae.Extra["retry_after"].(int); ok {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		}
		if ae == errBusy {
			logger.Warn("shed: password hashing at capacity", "request_id", rid, "method", c.Method(), "path", c.Path())
		} else if ae.Status >= 500 {
			logger.Error("request failed", "request_id", rid, "method", c.Method(), "path", c.Path(), "err", err)
		}
		if wantsJSON(c) {
			return c.Status(ae.Status).JSON(ae.errorBody(rid))
		}
		title := ae.Message
		if ae.Status == fiber.StatusNotFound {
			title = "页面不存在"
		}
		layout := layoutPublic
		if strings.HasPrefix(c.Path(), "/console") {
			layout = layoutConsole
		}
		page := Page{Title: title, Data: ErrorView{Status: ae.Status, Title: title, Message: errorPageMessage(ae)}}
		if rerr := render(c, ae.Status, "errors/error", layout, page); rerr != nil {
			logger.Error("render error page", "request_id", rid, "err", rerr)
			c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
			return c.Status(ae.Status).SendString(ae.Message + "（请求编号：" + rid + "）")
		}
		return nil
	}
}

func errorPageMessage(ae *APIError) string {
	switch ae.Status {
	case fiber.StatusNotFound:
		return "您访问的页面不存在或已被移除，请检查网址，或返回首页重新进入。"
	case fiber.StatusForbidden:
		return "您没有权限访问此页面。如有疑问请联系管理员。"
	}
	if ae == errBusy {
		return "当前访问人数较多，请稍等片刻后重试。"
	}
	if ae == errStorageUnavailable {
		return "证件照存储服务未能及时响应，请稍后刷新重试；如持续出现，请联系系统运维人员。"
	}
	if ae.Status >= 500 {
		return "系统暂时无法处理您的请求，请稍后重试。"
	}
	return ae.Message
}

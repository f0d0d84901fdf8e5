package handlers

import (
	"bytes"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// refusedMarker is a request header only the server sets (HeaderReceived
// deletes any a client sent), marking a request whose framing is ambiguous.
const refusedMarker = "X-Recoverydesk-Refused"

// ownPreRoutingAnswers makes every answer the server gives before routing
// the product's own — the JSON envelope under /api and /dev, the Chinese
// error page elsewhere, always with X-Request-Id and the security headers —
// instead of fasthttp's and Fiber's plain text: a malformed header or
// Content-Length, a body over the limit (chunked or not), an over-long
// URL or header block (431), an unknown method. It also refuses requests
// whose length is ambiguous, a building block of request smuggling.
func ownPreRoutingAnswers(app *fiber.App, logger *slog.Logger) {
	srv := app.Server()
	route, fiberErrors := srv.Handler, srv.ErrorHandler

	// Duplicate Content-Length headers are parsed last-wins by fasthttp; a
	// proxy in front may have used the first. The raw header block shows
	// them: such a request reads no body and is answered 400 (below), and
	// the connection is closed, so no leftover bytes become a request.
	//
	// The header's path is also kept aside until the request reaches the
	// handler: a body that fails to read (over the limit, cut short) resets
	// the request, and the error handler needs the path to answer in JSON
	// or as a page. Keys are the pooled request contexts' headers, so the
	// map holds at most one entry per context ever in use at once.
	var pending sync.Map // *fasthttp.RequestHeader → path
	srv.HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
		pending.Store(h, string(h.RequestURI()))
		h.Del(refusedMarker)
		if ambiguousLength(h.RawHeaders()) {
			h.Set(refusedMarker, "length")
			h.SetContentLength(0)
		}
		return fasthttp.RequestConfig{}
	}

	answer := func(fctx *fasthttp.RequestCtx, err error) {
		c := app.AcquireCtx(fctx)
		defer app.ReleaseCtx(c)
		if herr := app.ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
		logger.Info("http", "request_id", requestID(c), "method", methodLabel(c.Method()), "path", c.Path(),
			"status", c.Response().StatusCode(), "ip", clientIP(c), "stage", "before_routing")
	}

	srv.Handler = func(fctx *fasthttp.RequestCtx) {
		pending.Delete(&fctx.Request.Header)
		if len(fctx.Request.Header.Peek(refusedMarker)) > 0 {
			fctx.SetConnectionClose()
			answer(fctx, fiber.ErrBadRequest)
			return
		}
		// Fiber answers an unknown method with a bare "Invalid http method"
		// before any middleware runs.
		if !slices.Contains(fiber.DefaultMethods, string(fctx.Method())) {
			answer(fctx, fiber.ErrBadRequest)
			return
		}
		route(fctx)
	}

	// Errors while reading the request. fasthttp has reset the request by
	// then: the path comes from pending when the header block was read, and
	// when it could not be parsed, from the start of the raw bytes quoted in
	// the error — enough to tell /api from a page.
	srv.ErrorHandler = func(fctx *fasthttp.RequestCtx, err error) {
		if uri, ok := pending.LoadAndDelete(&fctx.Request.Header); ok {
			fctx.Request.Header.SetRequestURI(uri.(string))
		} else if target, ok := targetFromReadError(err.Error()); ok {
			fctx.Request.Header.SetRequestURI(target)
		}
		fiberErrors(fctx, err) // Fiber maps the error to a status, then calls errorHandler
		logger.Info("http", "request_id", string(fctx.Response.Header.Peek(fiber.HeaderXRequestID)),
			"path", string(fctx.Path()), "status", fctx.Response.StatusCode(), "ip", fctx.RemoteIP().String(), "stage", "reading_request")
	}
}

// ambiguousLength reports whether a raw header block gives its body's
// length more than once: two Content-Length fields (RFC 9112 §6.3 lets a
// server refuse them), or Content-Length beside Transfer-Encoding.
func ambiguousLength(raw []byte) bool {
	lengths, chunked := 0, false
	for _, line := range bytes.Split(raw, []byte("\n")) {
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch strings.ToLower(string(bytes.TrimSpace(name))) {
		case "content-length":
			lengths++
		case "transfer-encoding":
			chunked = true
		}
	}
	return lengths > 1 || lengths == 1 && chunked
}

// targetFromReadError recovers the path of a request whose header block
// fasthttp could not parse, from the quoted start of the buffer in its
// error ("… contents: "GET /api/v1/… HTTP/1.1\r\n…""). Only the path is
// kept, and only when it is one: it decides JSON or page, nothing more.
func targetFromReadError(msg string) (string, bool) {
	_, rest, ok := strings.Cut(msg, "contents: ")
	if !ok {
		return "", false
	}
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", false
	}
	raw, err := strconv.Unquote(quoted)
	if err != nil {
		return "", false
	}
	line, _, _ := strings.Cut(raw, "\n")
	_, target, ok := strings.Cut(line, " ")
	if !ok {
		return "", false
	}
	target, _, _ = strings.Cut(target, " ")
	if u, err := url.Parse(target); err == nil && u.IsAbs() {
		target = u.Path
	}
	target, _, _ = strings.Cut(target, "?")
	if !strings.HasPrefix(target, "/") {
		return "", false
	}
	return target, true
}

package handlers

import (
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// fasthttpCookie returns a copy of the response cookie named name, or nil.
func fasthttpCookie(c *fiber.Ctx, name string) *fasthttp.Cookie {
	fc := fasthttp.AcquireCookie()
	fc.SetKey(name)
	if !c.Response().Header.Cookie(fc) {
		fasthttp.ReleaseCookie(fc)
		return nil
	}
	return fc
}

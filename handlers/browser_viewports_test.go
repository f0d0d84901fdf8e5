package handlers_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
)

// viewport is a browser window a test runs at: the desktop, and a 390 px
// phone (an iPhone 12–15's CSS width) with touch and a mobile user agent's
// layout rules.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

// viewports are the two widths every applicant flow is tried at.
var viewports = []viewport{
	{name: "desktop", width: 1280, height: 900},
	{name: "phone390", width: 390, height: 844, mobile: true},
}

// atViewport sizes the page as vp.
func atViewport(vp viewport) chromedp.Action[chromedp.Void] {
	if vp.mobile {
		return chromedp.EmulateViewport(vp.width, vp.height, chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
	}
	return chromedp.EmulateViewport(vp.width, vp.height)
}

// forEachViewport runs fn once per viewport, each in a subtest with the
// browser already sized.
func forEachViewport(t *testing.T, browser context.Context, fn func(t *testing.T, vp viewport)) {
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			if err := chromedp.Do(browser, atViewport(vp)); err != nil {
				t.Fatalf("viewport %s: %v", vp.name, err)
			}
			fn(t, vp)
		})
	}
}

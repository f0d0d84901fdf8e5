package handlers

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"recoverydesk/policies"
)

// headerPrepare marks the case page's request to prepare an image of the
// next case ahead of its view. A custom header: no other site can send it
// without a CORS preflight this server never answers.
const headerPrepare = "X-Prepare-Evidence"

// serverTimingPrepared marks an image response that was prepared ahead, as
// a Server-Timing entry the page (and anyone measuring the loop) can read.
const serverTimingPrepared = "prepared"

// Bounds of the prepared images: how long one waits for its view, and how
// many bytes all of them may hold in one instance.
const (
	preparedTTL      = 2 * time.Minute
	preparedMaxBytes = 64 << 20
)

// preparedImages holds watermarked evidence images prepared for one viewer
// before they asked to see them: the images of the case "下一件" will open,
// fetched from the store and stamped while the reviewer decides the current
// one, so that the next case's images show at once. An image is handed out
// once and only to the viewer it was stamped for, and kept at most
// preparedTTL (its stamp names the time it was prepared). Evidence is never
// cached by the browser (no-store), which is why this lives on the server.
// Several instances each keep their own: a miss only means the image is
// read and stamped when asked for, as without it.
type preparedImages struct {
	mu    sync.Mutex
	items map[string]preparedImage
	bytes int
}

type preparedImage struct {
	data    []byte
	ctype   string
	expires time.Time
}

func newPreparedImages() *preparedImages {
	return &preparedImages{items: map[string]preparedImage{}}
}

func preparedKey(staffID int, number, kind string) string {
	return fmt.Sprintf("%d|%s|%s", staffID, number, kind)
}

// put keeps one image, dropping expired ones first; it keeps nothing that
// would pass the byte bound.
func (p *preparedImages) put(key string, img preparedImage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for k, v := range p.items {
		if now.After(v.expires) || k == key {
			p.bytes -= len(v.data)
			delete(p.items, k)
		}
	}
	if p.bytes+len(img.data) > preparedMaxBytes {
		return
	}
	p.items[key] = img
	p.bytes += len(img.data)
}

// take hands out an image once, if it is still fresh.
func (p *preparedImages) take(key string) (preparedImage, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	img, ok := p.items[key]
	if ok {
		delete(p.items, key)
		p.bytes -= len(img.data)
	}
	return img, ok && time.Now().Before(img.expires)
}

// prepareEvidence reads and stamps one image for the viewer without showing
// it or recording a view (nothing was viewed yet): 204.
func (s *Server) prepareEvidence(c *fiber.Ctx, number, kind string) error {
	rv := s.reviewer(c, policies.PermEvidenceView)
	data, err := s.deps.Recovery.ReadEvidence(c.UserContext(), rv, number, kind)
	if err != nil {
		return err
	}
	out, ctype, err := s.watermark(c, data, s.stamp(rv.Username))
	if err != nil {
		return err
	}
	s.prepared.put(preparedKey(rv.ID, number, kind), preparedImage{data: out, ctype: ctype, expires: time.Now().Add(preparedTTL)})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.SendStatus(fiber.StatusNoContent)
}

// servePrepared shows an image prepared for the viewer, recording the view
// as evidenceImage does; false when there is none.
func (s *Server) servePrepared(c *fiber.Ctx, number, kind string) (bool, error) {
	rv := s.reviewer(c, policies.PermEvidenceView)
	img, ok := s.prepared.take(preparedKey(rv.ID, number, kind))
	if !ok {
		return false, nil
	}
	// Still the viewer's to see (a grant may have been revoked meanwhile),
	// and the view is recorded as any other.
	if _, err := s.deps.Recovery.CaseFor(c.UserContext(), rv, number); err != nil {
		return true, err
	}
	if err := s.deps.Recovery.RecordEvidenceView(c.UserContext(), rv, number, kind); err != nil {
		return true, err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, img.ctype)
	c.Set(fiber.HeaderContentLength, strconv.Itoa(len(img.data)))
	c.Set("Server-Timing", serverTimingPrepared)
	return true, c.Send(img.data)
}

// isPrepareRequest says whether the request asks for an image to be
// prepared rather than shown.
func isPrepareRequest(c *fiber.Ctx) bool {
	return strings.TrimSpace(c.Get(headerPrepare)) == "1"
}

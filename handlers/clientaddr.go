package handlers

import (
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// clientIPKey is the Locals key of the client address clientAddress found.
const clientIPKey = "client_ip"

// clientAddress finds, once per request, the address of the client behind
// it: the connection's peer, unless that peer is one of the trusted
// proxies (RD_TRUSTED_PROXIES), in which case X-Forwarded-For is read from
// the right, skipping trusted proxies, and its first other address is the
// client's. Everything left of that address was written by the client and
// proves nothing; from an untrusted peer the header changes nothing at all.
// Rate limits, access logs and audit entries all use this one address.
func clientAddress(trusted []netip.Prefix) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Locals(clientIPKey, resolveClient(peerAddr(c), c.Request().Header.PeekAll(fiber.HeaderXForwardedFor), trusted).String())
		return c.Next()
	}
}

// clientIP is the client's address as clientAddress found it (the peer's
// before that middleware ran, as for errors raised before routing).
func clientIP(c *fiber.Ctx) string {
	if ip, ok := c.Locals(clientIPKey).(string); ok {
		return ip
	}
	return peerAddr(c).String()
}

// peerAddr is the address of the connection's other end.
func peerAddr(c *fiber.Ctx) netip.Addr {
	a, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return a.Unmap()
}

// resolveClient is the client address of a request from peer carrying the
// X-Forwarded-For headers xff (in order), given the trusted proxies.
func resolveClient(peer netip.Addr, xff [][]byte, trusted []netip.Prefix) netip.Addr {
	if !isTrusted(peer, trusted) || len(xff) == 0 {
		return peer
	}
	var hops []string
	for _, h := range xff {
		hops = append(hops, strings.Split(string(h), ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			// A trusted proxy wrote something that is not an address:
			// the last trusted hop is as far as the chain can be believed.
			return client
		}
		client = a
		if !isTrusted(a, trusted) {
			return a
		}
	}
	return client // every hop is a trusted proxy: the leftmost is the client
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port or in brackets.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

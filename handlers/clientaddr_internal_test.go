package handlers

import (
	"net/netip"
	"testing"
)

func TestResolveClient(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	peer, outsider := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("198.51.100.1")
	for _, tc := range []struct {
		peer netip.Addr
		xff  []string
		want string
	}{
		{outsider, []string{"203.0.113.7"}, "198.51.100.1"},               // an untrusted peer's header counts for nothing
		{peer, nil, "10.0.0.1"},                                           // the proxy itself
		{peer, []string{"203.0.113.7"}, "203.0.113.7"},                    // one proxy
		{peer, []string{"1.1.1.1, 203.0.113.7, 10.2.3.4"}, "203.0.113.7"}, // forged left part, two proxies
		{peer, []string{"1.1.1.1", "203.0.113.7 , 10.2.3.4"}, "203.0.113.7"},
		{peer, []string{"10.9.9.9, 10.2.3.4"}, "10.9.9.9"},             // all trusted: the leftmost
		{peer, []string{"203.0.113.7:5123"}, "203.0.113.7"},            // with a port
		{peer, []string{"[2001:db8::5]:443"}, "2001:db8::5"},           // IPv6 with a port
		{peer, []string{"::ffff:203.0.113.9"}, "203.0.113.9"},          // IPv4 in IPv6
		{peer, []string{"203.0.113.7, garbage, 10.2.3.4"}, "10.2.3.4"}, // garbage from a proxy: stop at the last trusted hop
		{netip.MustParseAddr("::1"), []string{"unknown"}, "::1"},       // nothing believable
		{netip.MustParseAddr("::1"), []string{"", " 203.0.113.7"}, "203.0.113.7"},
	} {
		var xff [][]byte
		for _, h := range tc.xff {
			xff = append(xff, []byte(h))
		}
		if got := resolveClient(tc.peer, xff, trusted).String(); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

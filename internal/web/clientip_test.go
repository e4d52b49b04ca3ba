package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		peer    string
		xff     []string
		want    string
	}{
		{"no trusted proxies: the header is ignored", nil, "10.0.0.7:5000", []string{"1.2.3.4"}, "10.0.0.7"},
		{"from the balancer", lb, "10.0.0.7:5000", []string{"1.2.3.4"}, "1.2.3.4"},
		{"what the client wrote is not believed", lb, "10.0.0.7:5000", []string{"6.6.6.6, 1.2.3.4"}, "1.2.3.4"},
		{"trusted hops are skipped", lb, "10.0.0.7:5000", []string{"1.2.3.4, 10.0.0.5"}, "1.2.3.4"},
		{"several headers are one list", lb, "10.0.0.7:5000", []string{"6.6.6.6", "1.2.3.4, 10.0.0.5"}, "1.2.3.4"},
		{"no header: the balancer itself", lb, "10.0.0.7:5000", nil, "10.0.0.7"},
		{"only trusted hops: the balancer", lb, "10.0.0.7:5000", []string{"10.1.1.1"}, "10.0.0.7"},
		{"an unreadable hop stops the walk", lb, "10.0.0.7:5000", []string{"1.2.3.4, not-an-ip"}, "10.0.0.7"},
		{"a peer that is not a balancer cannot claim an address", lb, "203.0.113.9:5000", []string{"1.2.3.4"}, "203.0.113.9"},
		{"IPv6", lb, "[::1]:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv4-mapped IPv6 peer", lb, "[::ffff:10.0.0.7]:5000", []string{"1.2.3.4"}, "1.2.3.4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{cfg: Config{TrustedProxies: tc.trusted}}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientIP(r); got != tc.want {
				t.Fatalf("clientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

package limits

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefixes reads trusted proxy entries: CIDRs ("10.0.0.0/8") or
// single addresses ("192.0.2.7", taken as /32 or /128).
func ParsePrefixes(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for i, s := range entries {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			if p.Addr().Is4In6() {
				return nil, fmt.Errorf("entry %d %q: write IPv4 networks in dotted form", i, s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("entry %d %q: not an IP address or CIDR (want e.g. 10.0.0.0/8 or 192.0.2.7)", i, s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the TCP peer of a connection or request, from its
// "host:port" address; false when it is not an IP address.
func peerAddr(hostport string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil {
		return ap.Addr().Unmap(), true
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// forwardedAddr reads one X-Forwarded-For element: an address, possibly
// with a port or in brackets.
func forwardedAddr(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}

// clientAddr returns the address of the client that sent r. The TCP peer
// is the client unless it is one of trusted, the reverse proxies in front
// of the server; then X-Forwarded-For is read from its right end (what the
// nearest proxy appended) leftwards, skipping trusted proxies, and the
// first address not among them is the client. Anything left of that
// address was written by the client itself and is ignored. An element
// that is not an address ends the walk at the last trusted hop.
func clientAddr(r *http.Request, trusted []netip.Prefix) (netip.Addr, bool) {
	peer, ok := peerAddr(r.RemoteAddr)
	if !ok || len(trusted) == 0 || !contains(trusted, peer) {
		return peer, ok
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := forwardedAddr(hops[i])
		if !ok {
			break
		}
		client = a
		if !contains(trusted, a) {
			break
		}
	}
	return client, true
}

// addrKey is the rate-limit and connection-count key of an address: the
// address itself for IPv4, its /64 network for IPv6, since one host
// usually holds a whole /64 and could otherwise pick a fresh address for
// every attempt.
func addrKey(a netip.Addr) string {
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

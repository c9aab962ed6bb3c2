// Package netkey turns a ticket's IP addresses and host into the keys its
// pivots and filters compare: an IP as its 16-byte form (IPv4 mapped into
// IPv6) in 32 lowercase hex digits, so that equality and a CIDR range are
// one range of one index on both databases (the digits sort as the numbers
// do, byte-wise and in any collation that orders 0-9 before a-f); a host
// trimmed and lower-cased. Both the ent hook that keeps the keys and the
// filters that search them go through here, so the two never differ.
package netkey

import (
	"encoding/hex"
	"net/netip"
	"strings"
)

// IPKey is the key of the IP address s; false when s is not one (such a
// ticket has no key: no pivot or filter finds it by that field).
func IPKey(s string) (string, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return "", false
	}
	return addrKey(a), true
}

func addrKey(a netip.Addr) string {
	b := a.WithZone("").As16()
	return hex.EncodeToString(b[:])
}

// Range is the keys [First, Last] of the addresses of an IP or a CIDR
// prefix, both ends included.
type Range struct{ First, Last string }

// Contains reports whether key is in r.
func (r Range) Contains(key string) bool { return key != "" && r.First <= key && key <= r.Last }

// ParseRange parses an IP (a range of one) or a CIDR prefix such as
// 10.1.0.0/16 or 2001:db8::/32; the bits past the prefix are ignored
// (10.1.2.3/16 is 10.1.0.0/16). An IPv4 prefix covers IPv4 addresses only,
// which are keyed as IPv4-mapped IPv6: 0.0.0.0/0 is ::ffff:0:0/96.
func ParseRange(s string) (Range, bool) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		k, ok := IPKey(s)
		return Range{k, k}, ok
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return Range{}, false
	}
	p = p.Masked()
	first := p.Addr().As16()
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	last := first
	for i := bits; i < 128; i++ {
		last[i/8] |= 0x80 >> (i % 8)
	}
	return Range{hex.EncodeToString(first[:]), hex.EncodeToString(last[:])}, true
}

// HostKey is the key of the host s: trimmed and lower-cased; false when
// nothing is left.
func HostKey(s string) (string, bool) {
	k := strings.ToLower(strings.TrimSpace(s))
	return k, k != ""
}

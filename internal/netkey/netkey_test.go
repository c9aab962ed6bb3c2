package netkey

import "testing"

func TestKeys(t *testing.T) {
	for _, c := range []struct {
		in, key string
		ok      bool
	}{
		{"10.1.2.3", "00000000000000000000ffff0a010203", true},
		{"::ffff:10.1.2.3", "00000000000000000000ffff0a010203", true},
		{" 2001:DB8::1 ", "20010db8000000000000000000000001", true},
		{"fe80::1%eth0", "fe800000000000000000000000000001", true},
		{"10.1.2", "", false},
		{"host.example", "", false},
		{"", "", false},
	} {
		k, ok := IPKey(c.in)
		if k != c.key || ok != c.ok {
			t.Errorf("IPKey(%q) = %q, %v; want %q, %v", c.in, k, ok, c.key, c.ok)
		}
	}
	for _, c := range []struct {
		in, first, last string
		ok              bool
	}{
		{"10.1.0.0/16", "00000000000000000000ffff0a010000", "00000000000000000000ffff0a01ffff", true},
		{"10.1.2.3/16", "00000000000000000000ffff0a010000", "00000000000000000000ffff0a01ffff", true},
		{"0.0.0.0/0", "00000000000000000000ffff00000000", "00000000000000000000ffffffffffff", true},
		{"10.1.2.3/32", "00000000000000000000ffff0a010203", "00000000000000000000ffff0a010203", true},
		{"::/0", "00000000000000000000000000000000", "ffffffffffffffffffffffffffffffff", true},
		{"2001:db8::/32", "20010db8000000000000000000000000", "20010db8ffffffffffffffffffffffff", true},
		{"2001:db8::1/128", "20010db8000000000000000000000001", "20010db8000000000000000000000001", true},
		{"::ffff:10.0.0.0/104", "00000000000000000000ffff0a000000", "00000000000000000000ffff0affffff", true},
		{"10.1.2.3", "00000000000000000000ffff0a010203", "00000000000000000000ffff0a010203", true},
		{"10.1.0.0/33", "", "", false},
		{"nope/8", "", "", false},
	} {
		r, ok := ParseRange(c.in)
		if r.First != c.first || r.Last != c.last || ok != c.ok {
			t.Errorf("ParseRange(%q) = %+v, %v; want [%s, %s], %v", c.in, r, ok, c.first, c.last, c.ok)
		}
	}
	if k, ok := HostKey("  WS-01.Corp.Example "); k != "ws-01.corp.example" || !ok {
		t.Errorf("HostKey = %q, %v", k, ok)
	}
	if _, ok := HostKey("   "); ok {
		t.Error("a blank host has a key")
	}
}

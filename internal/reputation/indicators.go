package reputation

import (
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"socdesk/ent"
	"socdesk/ent/reputationresult"
	"socdesk/internal/outbound"
	"socdesk/internal/tickets"
)

// Bounds of the extraction.
const (
	// MaxIndicators a ticket is looked up by: the first found, detection
	// fields before evidence (each lookup spends quota).
	MaxIndicators = 20
	// MaxEvidenceScanned records of a ticket are read, oldest first.
	MaxEvidenceScanned = 100
	// maxValuesScanned bounds the strings read from one record, and
	// maxDepth its nesting.
	maxValuesScanned = 1000
	maxDepth         = 8
)

// Kind is what an indicator is.
type Kind = reputationresult.Kind

// Kinds.
const (
	IP       = reputationresult.KindIP
	Domain   = reputationresult.KindDOMAIN
	FileHash = reputationresult.KindFILE_HASH
)

// Indicator is one thing a provider can tell the reputation of, normalized
// (see Normalize).
type Indicator struct {
	Kind  Kind
	Value string
}

var hexHash = regexp.MustCompile(`^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$`)

// internalSuffixes are domains that name hosts of the organization's own
// network: never sent to a provider outside it.
var internalSuffixes = []string{"localhost", ".local", ".localdomain", ".internal", ".lan", ".corp", ".home.arpa", ".intranet"}

// Normalize returns the indicator of kind that value is, and whether it is
// one that may be looked up: an IP that is public (a private address means
// nothing to a provider and tells it about the network), a domain with a
// dot and no internal suffix, a hex MD5, SHA-1 or SHA-256.
func Normalize(kind Kind, value string) (Indicator, bool) {
	value = strings.TrimSpace(value)
	switch kind {
	case IP:
		a, err := netip.ParseAddr(value)
		if err != nil || a.Zone() != "" || outbound.Check(nil, a) != nil {
			return Indicator{}, false
		}
		return Indicator{IP, a.Unmap().String()}, true
	case Domain:
		d := strings.TrimSuffix(strings.ToLower(value), ".")
		if !isDomain(d) {
			return Indicator{}, false
		}
		for _, s := range internalSuffixes {
			if d == strings.TrimPrefix(s, ".") || strings.HasSuffix(d, s) {
				return Indicator{}, false
			}
		}
		return Indicator{Domain, d}, true
	case FileHash:
		if !hexHash.MatchString(value) {
			return Indicator{}, false
		}
		return Indicator{FileHash, strings.ToLower(value)}, true
	}
	return Indicator{}, false
}

// isDomain: labels of letters, digits and hyphens, at least two, the last
// not numeric, at most 253 characters.
func isDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	labels := strings.Split(d, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	return strings.IndexFunc(tld, func(r rune) bool { return r < '0' || r > '9' }) >= 0
}

// ofHost reads a host name or an address.
func ofHost(s string) (Indicator, bool) {
	if i, ok := Normalize(IP, s); ok {
		return i, true
	}
	if _, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
		return Indicator{}, false // a private address
	}
	return Normalize(Domain, s)
}

// ofType reads a value of a template field's type.
func ofType(t tickets.FieldType, s string) (Indicator, bool) {
	switch t {
	case tickets.FieldIP:
		return Normalize(IP, s)
	case tickets.FieldHost:
		return ofHost(s)
	case tickets.FieldDomain:
		return Normalize(Domain, s)
	case tickets.FieldHash:
		return Normalize(FileHash, s)
	case tickets.FieldEmail:
		if a, err := mail.ParseAddress(s); err == nil {
			if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
				return Normalize(Domain, a.Address[at+1:])
			}
		}
	case tickets.FieldURL:
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.Hostname() != "" {
			return ofHost(u.Hostname())
		}
	}
	return Indicator{}, false
}

// ofValue reads a value of no declared type: a hash or a public IP.
func ofValue(s string) (Indicator, bool) {
	if i, ok := Normalize(FileHash, s); ok {
		return i, true
	}
	return Normalize(IP, s)
}

// keyType is the type a record's key suggests for its value.
func keyType(key string) tickets.FieldType {
	k := strings.ToLower(key)
	switch {
	case strings.Contains(k, "url") || strings.Contains(k, "uri"):
		return tickets.FieldURL
	case strings.Contains(k, "email") || k == "from" || k == "to" || k == "sender" || k == "recipient":
		return tickets.FieldEmail
	case strings.Contains(k, "domain") || strings.Contains(k, "fqdn") || strings.Contains(k, "host"):
		return tickets.FieldHost
	}
	return ""
}

// Indicators are the indicators of ticket t with evidence records, in
// the order found, each once, at most MaxIndicators: the detection's
// source and destination IPs and host, its custom fields (by the type its
// template declares; others when they hold a hash or a public IP), then the
// records' values (by what their keys suggest; otherwise a hash or a
// public IP).
func Indicators(t *ent.Ticket, records []map[string]any) []Indicator {
	var out []Indicator
	seen := map[Indicator]bool{}
	add := func(i Indicator, ok bool) {
		if ok && !seen[i] && len(out) < MaxIndicators {
			seen[i] = true
			out = append(out, i)
		}
	}
	add(Normalize(IP, t.SrcIP))
	add(Normalize(IP, t.DstIP))
	add(ofHost(t.Host))
	if t.DetectionTemplate != nil {
		for _, f := range t.CustomFields {
			if tf, ok := tickets.FieldOf(*t.DetectionTemplate, f.Key, true); ok {
				add(ofType(tf.Type, f.Value))
			} else {
				add(ofValue(f.Value))
			}
		}
	}
	for _, r := range records {
		n := 0
		walk(r, "", 0, &n, func(key, s string) {
			if kt := keyType(key); kt != "" {
				if i, ok := ofType(kt, s); ok {
					add(i, true)
					return
				}
			}
			add(ofValue(s))
		})
	}
	return out
}

// walk calls fn with each string of v (and the key it is under), in key
// order, up to maxDepth deep and *n < maxValuesScanned strings.
func walk(v any, key string, depth int, n *int, fn func(key, s string)) {
	if depth > maxDepth || *n >= maxValuesScanned {
		return
	}
	switch x := v.(type) {
	case string:
		*n++
		fn(key, x)
	case []any:
		for _, e := range x {
			walk(e, key, depth+1, n, fn)
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			walk(x[k], k, depth+1, n, fn)
		}
	}
}

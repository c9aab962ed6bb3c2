package reputation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"socdesk/ent/reputationresult"
	"socdesk/internal/outbound"
)

// Status is the outcome of a lookup.
type Status = reputationresult.Status

// Statuses; Unchecked is only ever shown (no lookup has been made).
const (
	OK          = reputationresult.StatusOK
	NotFound    = reputationresult.StatusNOT_FOUND
	RateLimited = reputationresult.StatusRATE_LIMITED
	Unavailable = reputationresult.StatusUNAVAILABLE
	Unchecked   = Status("UNCHECKED")
)

// Bounds of the provider's answers.
const (
	// MaxAnswerBytes is the most of an answer read: a file's report lists
	// every engine's verdict and runs to hundreds of KiB.
	MaxAnswerBytes = 2 << 20
	// MaxStatsKeys of last_analysis_stats are kept, each name at most
	// maxStatsKeyLength characters.
	MaxStatsKeys       = 16
	maxStatsKeyLength  = 32
	maxErrorLength     = 500
	defaultRetryAfter  = time.Minute
	maxRetryAfter      = 24 * time.Hour
	permalinkBase      = "https://www.virustotal.com/gui/"
	DefaultProviderURL = "https://www.virustotal.com"
)

// Answer is what the provider said of one indicator.
type Answer struct {
	Status     Status
	Stats      map[string]int // last_analysis_stats, bounded
	Reputation *int
	// RetryAfter is when the provider asked to be called again (429).
	RetryAfter time.Duration
	// Err says why a lookup failed (UNAVAILABLE, RATE_LIMITED), without
	// the key.
	Err string
}

// VirusTotal speaks the VirusTotal v3 API: GET {URL}/api/v3/ip_addresses/{ip},
// /domains/{domain}, /files/{hash} with the key in x-apikey.
type VirusTotal struct {
	URL  string // base, e.g. https://www.virustotal.com
	Key  string // write-only
	HTTP *outbound.Guard
}

// paths are the v3 API's collections, and the GUI's, per kind.
var paths = map[Kind]struct{ api, gui string }{
	IP:       {"ip_addresses", "ip-address"},
	Domain:   {"domains", "domain"},
	FileHash: {"files", "file"},
}

// Permalink is the provider's page of i (VirusTotal's GUI).
func Permalink(i Indicator) string {
	return permalinkBase + paths[i.Kind].gui + "/" + url.PathEscape(i.Value)
}

// Lookup asks the provider about i. It never returns an error: a failure
// is an Answer with its status.
func (v *VirusTotal) Lookup(ctx context.Context, i Indicator) Answer {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimRight(v.URL, "/")+"/api/v3/"+paths[i.Kind].api+"/"+url.PathEscape(i.Value), nil)
	if err != nil {
		return Answer{Status: Unavailable, Err: "the provider's URL is not valid"}
	}
	req.Header.Set("x-apikey", v.Key)
	req.Header.Set("Accept", "application/json")
	res, err := v.HTTP.Do(ctx, req)
	if err != nil {
		return Answer{Status: Unavailable, Err: v.redact(failure(err))}
	}
	switch {
	case res.Status == http.StatusOK:
	case res.Status == http.StatusNotFound:
		return Answer{Status: NotFound}
	case res.Status == http.StatusTooManyRequests:
		return Answer{Status: RateLimited, RetryAfter: retryAfter(res.Header.Get("Retry-After")), Err: "the provider's rate limit (HTTP 429)"}
	case res.Status == http.StatusUnauthorized || res.Status == http.StatusForbidden:
		return Answer{Status: Unavailable, Err: fmt.Sprintf("the provider refused the key (HTTP %d)", res.Status)}
	default:
		return Answer{Status: Unavailable, Err: fmt.Sprintf("the provider answered HTTP %d", res.Status)}
	}
	if res.Truncated {
		return Answer{Status: Unavailable, Err: fmt.Sprintf("the provider's answer is larger than %d bytes", MaxAnswerBytes)}
	}
	var body struct {
		Data struct {
			Attributes struct {
				Stats      map[string]json.Number `json:"last_analysis_stats"`
				Reputation *int                   `json:"reputation"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil {
		return Answer{Status: Unavailable, Err: "the provider's answer is not the JSON expected"}
	}
	stats := map[string]int{}
	for k, n := range body.Data.Attributes.Stats {
		if x, err := n.Int64(); err == nil && len(stats) < MaxStatsKeys && len(k) <= maxStatsKeyLength {
			stats[k] = int(x)
		}
	}
	return Answer{Status: OK, Stats: stats, Reputation: body.Data.Attributes.Reputation}
}

// failure says why a request failed, in words that name no URL.
func failure(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return "the provider did not answer in time"
	case errors.Is(err, outbound.ErrRefused):
		return "the provider's address is not allowed (SOCDESK_OUTBOUND_ALLOW)"
	}
	return "the provider could not be reached: " + err.Error()
}

// redact hides the key in s (outbound.Redact) and bounds it.
func (v *VirusTotal) redact(s string) string {
	s = outbound.Redact(s, v.Key)
	if r := []rune(s); len(r) > maxErrorLength {
		s = string(r[:maxErrorLength])
	}
	return s
}

// retryAfter reads Retry-After (seconds or an HTTP date), bounded.
func retryAfter(h string) time.Duration {
	d := defaultRetryAfter
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = time.Until(t)
	}
	return min(max(d, time.Second), maxRetryAfter)
}

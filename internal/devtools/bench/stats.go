// Package bench holds socdesk's load generators (cmd/socdesk-bench).
package bench

import (
	"math"
	"slices"
	"time"
)

// Summary describes a sample of durations.
type Summary struct {
	Count int     `json:"count"`
	MinMS float64 `json:"min_ms"`
	P50MS float64 `json:"p50_ms"`
	P90MS float64 `json:"p90_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
	AvgMS float64 `json:"avg_ms"`
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value that at least p percent of the
// sample are at or below. It returns 0 for an empty sample.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Summarize sorts d in place and summarizes it.
func Summarize(d []time.Duration) Summary {
	s := Summary{Count: len(d)}
	if len(d) == 0 {
		return s
	}
	slices.Sort(d)
	var sum time.Duration
	for _, v := range d {
		sum += v
	}
	s.MinMS = ms(d[0])
	s.P50MS = ms(Percentile(d, 50))
	s.P90MS = ms(Percentile(d, 90))
	s.P99MS = ms(Percentile(d, 99))
	s.MaxMS = ms(d[len(d)-1])
	s.AvgMS = ms(sum / time.Duration(len(d)))
	return s
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000
}

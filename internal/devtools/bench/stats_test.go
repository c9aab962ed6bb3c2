package bench

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {1, time.Millisecond}, {0, time.Millisecond}, {0.1, time.Millisecond}} {
		if got := Percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
	// Small samples: p99 of 60 values is the largest (ceil(59.4) = 60).
	small := d[:60]
	if got := Percentile(small, 99); got != 60*time.Millisecond {
		t.Errorf("p99 of 60 = %v", got)
	}
	if got := Percentile(small, 50); got != 30*time.Millisecond {
		t.Errorf("p50 of 60 = %v", got)
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("single: %v", got)
	}
}

func TestSummarize(t *testing.T) {
	d := []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond}
	s := Summarize(d)
	if s.Count != 3 || s.MinMS != 1 || s.MaxMS != 3 || s.P50MS != 2 || s.AvgMS != 2 || s.P99MS != 3 {
		t.Errorf("%+v", s)
	}
	if s := Summarize(nil); s.Count != 0 || s.P99MS != 0 {
		t.Errorf("empty: %+v", s)
	}
}

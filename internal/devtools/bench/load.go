package bench

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Op is one request of a scenario variant, made by worker w (0 ≤ w <
// concurrency) as its i-th request.
type Op func(ctx context.Context, w, i int) error

// RunStats is what one timed run of a variant measured.
type RunStats struct {
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	// Throughput is successful requests per second.
	Throughput float64 `json:"throughput"`
	Latency    Summary `json:"latency"`
}

// Drive runs op from workers concurrent workers, each in a closed loop (the
// next request as soon as the previous one returned), for d, and measures
// the latency of every successful request.
func Drive(ctx context.Context, workers int, d time.Duration, op Op) RunStats {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lats := make([][]time.Duration, workers)
	errs := make([]int, workers)
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				t := time.Now()
				err := op(ctx, w, i)
				if err != nil {
					if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
						return
					}
					errs[w]++
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	s := RunStats{Seconds: round3(elapsed.Seconds())}
	for w := range workers {
		all = append(all, lats[w]...)
		s.Errors += errs[w]
	}
	s.Requests = len(all) + s.Errors
	s.Latency = Summarize(all)
	s.Throughput = round3(float64(len(all)) / elapsed.Seconds())
	if first != nil {
		s.FirstError = truncate(first.Error(), 300)
	}
	return s
}

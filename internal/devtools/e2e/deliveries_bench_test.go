package e2e_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"socdesk/internal/devtools/bench"
	"socdesk/internal/devtools/receivers"
)

// benchDeliveries is the backlog each run of BenchmarkDeliveries sends.
const benchDeliveries = 500

// BenchmarkDeliveries measures deliveries per second through the whole
// server, through one replica and through two (10 job workers each), to a
// webhook receiver that answers at once:
//
//	go test -run '^$' -bench BenchmarkDeliveries -benchtime 1x ./internal/devtools/e2e/
//
// Each run makes 500 changes (created tickets, one webhook delivery each)
// through a replica that works no jobs, stops it, then starts the measured
// replicas together: they work the 500 fan-out jobs and the 500 delivery
// jobs these make. deliveries/s is 499 over the time from the receiver's
// first arrival to its last; floor_req/s is the same receiver's rate for
// 500 plain POSTs of the same size from a Go client as concurrent as the
// replicas' workers (the median of 5 such runs just before), and ratio their quotient.
// server-cpu-ms/1000 is the replicas' CPU (user + system, from /proc, from
// ready to every delivery recorded SENT) per 1,000 deliveries; PostgreSQL's
// is not in it. ns/op is the time from launching the replicas to the last
// delivery recorded SENT (their start included).
func BenchmarkDeliveries(b *testing.B) {
	for _, replicas := range []int{1, 2} {
		b.Run(fmt.Sprintf("replicas=%d", replicas), func(b *testing.B) {
			var rate, send, floor, cpu float64
			for range b.N {
				r := deliveryRun(b, replicas, benchDeliveries)
				rate += r.rate
				send += r.sendRate
				floor += r.floor
				cpu += r.cpuPer1000
			}
			n := float64(b.N)
			b.ReportMetric(rate/n, "deliveries/s")
			b.ReportMetric(send/n, "send-phase-deliveries/s")
			b.ReportMetric(floor/n, "floor_req/s")
			b.ReportMetric(bench.Ratio(rate, floor), "ratio")
			b.ReportMetric(cpu/n, "server-cpu-ms/1000")
		})
	}
}

type deliveryFigures struct {
	rate       float64 // n over ready → last arrival: fan-outs and deliveries
	sendRate   float64 // first → last arrival: the deliveries once fanned out
	floor      float64
	cpuPer1000 float64
}

func deliveryRun(b *testing.B, replicas, n int) deliveryFigures {
	b.StopTimer()
	c := newCluster(b)
	db := c.db()
	rcv := receivers.StartHTTP(b)
	quiet := map[string]string{"SOCDESK_LOG_LEVEL": "warn"}
	producer := c.start("producer", "", jobEnv(map[string]string{"SOCDESK_JOB_WORKERS": "0", "SOCDESK_LOG_LEVEL": "warn"}))
	f := c.fixture(producer)
	c.webhookChannel(producer, rcv.URL)
	if err := c.burst([]*server{producer}, f, n, 8); err != nil {
		b.Fatal(err)
	}
	if err := producer.stop(10 * time.Second); err != nil {
		b.Fatal(err)
	}
	if k := counts(b, db, `SELECT kind, count(*) FROM river_job WHERE kind <> 'sla.breach' GROUP BY 1`); k["notify.fanout"] != n || len(k) != 1 {
		b.Fatalf("the backlog: jobs %v, want %d fan-outs only", k, n)
	}

	// The floor is a few milliseconds of work, easily disturbed on a shared
	// machine: the median of 5.
	var floors []float64
	for range 5 {
		floors = append(floors, floorRate(b, rcv.URL, n, 10*replicas))
	}
	sort.Float64s(floors)
	floor := floors[2]
	rcv.Reset()

	b.StartTimer()
	servers := make([]*server, replicas)
	for i := range servers {
		servers[i] = c.launch(fmt.Sprintf("worker %d", i+1), freePort(b), "", jobEnv(quiet))
	}
	cpu0 := make([]int64, replicas)
	var ready time.Time
	for i, s := range servers {
		if err := s.waitReady(30 * time.Second); err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
		if i == 0 {
			ready = time.Now()
		}
		ps, err := bench.ReadProc(s.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		cpu0[i] = ps.CPUms
	}
	waitUntil(b, 120*time.Second, fmt.Sprintf("%d deliveries at the receiver", n), func() bool { return seenKeys(rcv) >= n })
	waitUntil(b, 60*time.Second, fmt.Sprintf("%d deliveries SENT", n), func() bool {
		return counts(b, db, `SELECT status, count(*) FROM deliveries GROUP BY status`)["SENT"] == n
	})
	b.StopTimer()
	var cpu int64
	for i, s := range servers {
		ps, err := bench.ReadProc(s.cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		cpu += ps.CPUms - cpu0[i]
	}
	reqs := rcv.Requests()
	first, last := reqs[0].At, reqs[0].At
	for _, r := range reqs {
		if r.At.Before(first) {
			first = r.At
		}
		if r.At.After(last) {
			last = r.At
		}
	}
	fig := deliveryFigures{
		rate:       float64(n) / last.Sub(ready).Seconds(),
		sendRate:   float64(n-1) / last.Sub(first).Seconds(),
		floor:      floor,
		cpuPer1000: float64(cpu) * 1000 / float64(n),
	}
	by := counts(b, db, `SELECT attempted_by[array_length(attempted_by, 1)], count(*) FROM river_job
		WHERE kind = 'notify.deliver' GROUP BY 1`)
	b.Logf("%d replicas: %d deliveries %v after ready (%.0f/s), the first after %v, the rest %.0f/s; %d requests of %d bytes; floor %.0f req/s (ratio %.3f); server CPU %d ms (%.0f ms per 1,000); delivery jobs by replica %v",
		replicas, n, last.Sub(ready).Round(time.Millisecond), fig.rate, first.Sub(ready).Round(time.Millisecond), fig.sendRate,
		len(reqs), len(reqs[0].Body), floor, bench.Ratio(fig.rate, floor), cpu, fig.cpuPer1000, by)
	for _, s := range servers {
		if err := s.stop(10 * time.Second); err != nil {
			b.Error(err)
		}
	}
	return fig
}

// floorRate is the receiver's own rate: n POSTs of a webhook-sized JSON
// body with an idempotency key each, conc at a time, from a plain Go client.
func floorRate(b *testing.B, url string, n, conc int) float64 {
	body := bytes.Repeat([]byte("x"), 640) // a delivery's JSON is about 640 bytes
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc}}
	defer hc.CloseIdleConnections()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("floor-%d", i))
				resp, err := hc.Do(req)
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if failed.Load() > 0 {
		b.Fatalf("floor: %d of %d requests failed", failed.Load(), n)
	}
	return float64(n) / took.Seconds()
}

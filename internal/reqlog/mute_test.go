package reqlog

import (
	"sync"
	"testing"
	"time"
)

// TestMute: one warning per period, however many goroutines fail at once.
func TestMute(t *testing.T) {
	m := &Mute{Period: time.Hour}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m.Allow() {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 1 {
		t.Fatalf("%d warnings let through in one period, want 1", allowed)
	}
	short := &Mute{Period: time.Millisecond}
	short.Allow()
	time.Sleep(2 * time.Millisecond)
	if !short.Allow() {
		t.Fatal("a warning after the period was muted")
	}
}

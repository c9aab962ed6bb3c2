package reqlog

import (
	"sync/atomic"
	"time"
)

// Mute lets one warning through per period: what fails on every request
// while a service is away (Redis, a trace collector) is logged once, not a
// thousand times a second. The zero value lets everything through.
type Mute struct {
	Period time.Duration
	last   atomic.Int64 // unix nanoseconds of the last warning let through
}

// Allow reports whether a warning may be logged now.
func (m *Mute) Allow() bool {
	now := time.Now().UnixNano()
	prev := m.last.Load()
	if prev != 0 && now-prev < int64(m.Period) {
		return false
	}
	return m.last.CompareAndSwap(prev, now)
}

// Note is the attribute a muted warning carries, saying so.
func (m *Mute) Note() string { return "repeats muted for " + m.Period.String() }

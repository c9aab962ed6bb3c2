package wsguard

import (
	"context"
	"sync"

	"github.com/gorilla/websocket"
)

// Conns are the open connections of one server. A graceful HTTP shutdown
// does not see hijacked connections: once requests are drained, GoAway
// closes these with 1001 (going away), so that clients know to reconnect
// elsewhere instead of seeing the connection drop (1006).
type Conns struct {
	mu     sync.Mutex
	set    map[*guarded]struct{}
	closed bool
}

// add registers c; false once the server is going away.
func (o *Conns) add(c *guarded) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	if o.set == nil {
		o.set = map[*guarded]struct{}{}
	}
	o.set[c] = struct{}{}
	return true
}

func (o *Conns) remove(c *guarded) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.set, c)
}

// Len returns the number of open connections.
func (o *Conns) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.set)
}

// GoAway closes every open connection with 1001 and refuses new ones. Each
// close frame is written within ctx's deadline or a second, whichever is
// sooner.
func (o *Conns) GoAway(ctx context.Context) {
	o.mu.Lock()
	o.closed = true
	conns := make([]*guarded, 0, len(o.set))
	for c := range o.set {
		conns = append(conns, c)
	}
	o.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			_ = c.writeClose(ctx, websocket.CloseGoingAway, "server shutting down")
			_ = c.Close()
		})
	}
	wg.Wait()
}

package graph_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// twoRootSubscriptions select two root fields of a subscription, which no
// executor can run; each must fail validation (issue 9, 1e).
var twoRootSubscriptions = []string{
	`subscription{a:ticketEvents{cursor} b:ticketEvents{cursor}}`,
	`subscription{ticketEvents{cursor} b:ticketEvents{cursor}}`,
	`subscription{a:ticketEvents{cursor} ...on Subscription{b:ticketEvents{cursor}}}`,
	`subscription S{...F ticketEvents{cursor}} fragment F on Subscription{x:ticketEvents{cursor}}`,
}

// TestSubscriptionOfTwoRootFields: a subscription with two root fields (by
// alias) is a validation error with a code over HTTP and over websocket,
// not a panic answered 500.
func TestSubscriptionOfTwoRootFields(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, q := range twoRootSubscriptions {
			r := e.do(e.admin, q, nil)
			if r.Status != http.StatusBadRequest || r.code() != "BAD_USER_INPUT" ||
				len(r.Errors) != 1 || r.Errors[0].Message == "internal error" {
				t.Fatalf("%s over HTTP: status %d, errors %+v", q, r.Status, r.Errors)
			}
			ws := e.dialWS(t, e.admin, nil)
			op := ws.subscribe(q, nil)
			m := ws.next()
			var errs []gqlError
			_ = json.Unmarshal(m.Payload, &errs)
			if m.Type != "error" || m.ID != op || len(errs) != 1 || errs[0].Extensions["code"] != "BAD_USER_INPUT" {
				t.Fatalf("%s over websocket: %s %s %s", q, m.Type, m.ID, m.Payload)
			}
			if m, err := ws.read(time.Second); err == nil && (m.Type != "complete" || m.ID != op) {
				t.Fatalf("%s over websocket, after the error: %s %s", q, m.Type, m.Payload)
			}
			// The connection stays usable.
			ws.subscribe(`subscription{ticketEvents{cursor}}`, nil)
			ws.quiet(100 * time.Millisecond)
		}
	})
}

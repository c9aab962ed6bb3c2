package wsguard

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"testing"
)

// FuzzAdmit: a connection's client messages, whatever they are, never
// panic the guard, and each either passes on to gqlgen as one JSON object
// of a type the protocol has, is refused alone (over the operation bound),
// or closes the connection with one of the guard's close codes.
// Messages are separated by 0x1E; legacy picks subscriptions-transport-ws.
func FuzzAdmit(f *testing.F) {
	const (
		init      = `{"type":"connection_init","payload":{"token":"sdk_x"}}`
		twoFields = `{"type":"subscribe","id":"1","payload":{"query":"subscription{a:ticketEvents{cursor} b:ticketEvents{cursor}}"}}`
	)
	join := func(msgs ...string) []byte { return []byte(joinRS(msgs)) }
	for _, seed := range []struct {
		legacy bool
		msgs   []byte
	}{
		{false, join(init, twoFields)},
		{true, join(init, `{"type":"start","id":"1","payload":{"query":"subscription{a:ticketEvents{cursor} b:ticketEvents{cursor}}"}}`)},
		{false, join(init, twoFields+`{}`)},       // trailing object
		{false, join(init, twoFields+` garbage`)}, // trailing bytes
		{false, join(init, `{"type":"bogus"}`)},
		{true, join(init, `{"type":"bogus"}`)},
		{false, join(`{"type":"bogus"}`)},
		{false, join(init, init)},
		{false, join(twoFields)}, // before the ack
		{false, join(init, twoFields, twoFields)},
		{false, join(init, `{"type":"complete","id":"1"}`, `{"type":"ping"}`, `{"type":"pong","payload":{}}`)},
		{true, join(init, `{"type":"stop","id":"1"}`, `{"type":"connection_terminate"}`)},
		{false, join(init, `{"type":"subscribe","id":"`+string(bytes.Repeat([]byte("x"), 300))+`"}`)},
		{false, join(init, "\xff\xfe", `[]`, `null`, `"subscribe"`, `{"type":1}`)},
		{false, join(init, `{"type":"subscribe","type":"ping","id":"1"}`)},
		{false, []byte{}},
	} {
		f.Add(seed.legacy, seed.msgs)
	}
	f.Fuzz(func(t *testing.T, legacy bool, msgs []byte) {
		p := protocol{subprotocol: transportWS, max: 2, ids: map[string]bool{}}
		if legacy {
			p.subprotocol = legacyWS
		}
		for i, msg := range bytes.Split(msgs, []byte{0x1E}) {
			code, reason := p.admit(msg)
			switch {
			case code == 0:
				var env envelope
				dec := json.NewDecoder(bytes.NewReader(msg))
				if dec.Decode(&env) != nil || dec.Decode(&struct{}{}) != io.EOF || !slices.Contains(clientTypes[p.subprotocol], env.Type) {
					t.Fatalf("message %d %q passed on", i, msg)
				}
				if env.Type == "connection_init" {
					p.sent(envelope{Type: "connection_ack"}) // as gqlgen answers
				}
			case code == refuseOperation:
				if reason == "" {
					t.Fatalf("message %d %q refused without a reason", i, msg)
				}
			case slices.Contains(CloseCodes, code):
				if len(reason) > 123 {
					t.Fatalf("close reason of %d bytes: %q", len(reason), reason)
				}
				return // the connection is closed
			default:
				t.Fatalf("message %d %q: close code %d", i, msg, code)
			}
		}
	})
}

func joinRS(msgs []string) string {
	var b bytes.Buffer
	for i, m := range msgs {
		if i > 0 {
			b.WriteByte(0x1E)
		}
		b.WriteString(m)
	}
	return b.String()
}

package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"socdesk/internal/auth"
	"socdesk/internal/channels"
	"socdesk/internal/errs"
	"socdesk/internal/reqlog"
	"socdesk/internal/viewer"
)

// Handler serves POST /ingest/{rule}: a JSON event (an object) or an array
// of up to MaxBatch, authenticated by a service account's token
// (Authorization: Bearer) or by the rule's HMAC key (X-Socdesk-Timestamp and
// X-Socdesk-Signature, as socdesk signs its own webhooks: channels.Verify).
// Idempotency-Key names a single event; for an array, event i gets the key
// "<Idempotency-Key>#<i>".
type Handler struct {
	Ingest *Service
	// Authenticate turns a bearer token into its viewer (auth.Authenticator.Cached).
	Authenticate func(r *http.Request, token string) (*viewer.Viewer, error)
	Log          *slog.Logger
}

// ResultJSON is one event's result as the handler answers it.
type ResultJSON struct {
	Index        int      `json:"index"`
	Outcome      Outcome  `json:"outcome"`
	TicketID     *string  `json:"ticketId,omitempty"`
	TicketNumber *int     `json:"ticketNumber,omitempty"`
	Error        *errJSON `json:"error,omitempty"`
}

type errJSON struct {
	Code    errs.Code `json:"code"`
	Field   string    `json:"field,omitempty"`
	Message string    `json:"message"`
}

// EncodeID is how a ticket's GraphQL id is written (graph/scalar.EncodeID,
// set by the wiring: this package does not import the API's).
var EncodeID = func(id int) string { return fmt.Sprint(id) }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		errs.WriteHTTP(w, r, http.StatusMethodNotAllowed, errs.New(errs.BadUserInput, "POST an event or an array of events"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		errs.WriteHTTP(w, r, http.StatusRequestEntityTooLarge, errs.New(errs.BadUserInput, "request body larger than %d bytes", MaxBodyBytes))
		return
	} else if err != nil {
		errs.WriteHTTP(w, r, http.StatusBadRequest, errs.New(errs.BadUserInput, "reading the request body"))
		return
	}
	ctx := r.Context()
	key := r.PathValue("rule")
	var results []Result
	tok, bearer := auth.BearerToken(r.Header.Get("Authorization"))
	events, batch, perr := parseEvents(body, r.Header.Get("Idempotency-Key"))
	switch {
	case bearer:
		v, err := h.Authenticate(r, tok)
		if err != nil {
			h.unauthenticated(w, r, err)
			return
		}
		if perr != nil {
			errs.WriteHTTP(w, r, http.StatusBadRequest, perr)
			return
		}
		results, err = h.Ingest.Ingest(viewer.NewContext(ctx, v), key, events)
		if err != nil {
			h.fail(w, r, err)
			return
		}
	case r.Header.Get(channels.HeaderSignature) != "":
		rule, err := h.Ingest.Rule(ctx, "rule", key)
		if err != nil && errs.CodeOf(err) != errs.NotFound {
			h.fail(w, r, err)
			return
		}
		// An unknown rule is refused as a bad signature is: a sender
		// learns nothing of which rules exist.
		if err != nil || rule.HmacSecret == "" || channels.Verify(rule.HmacSecret, r.Header, body, 0, time.Now()) != nil {
			h.unauthenticated(w, r, auth.ErrUnauthenticated)
			return
		}
		if perr != nil {
			errs.WriteHTTP(w, r, http.StatusBadRequest, perr)
			return
		}
		if results, err = h.Ingest.IngestSigned(ctx, rule, events); err != nil {
			h.fail(w, r, err)
			return
		}
	default:
		h.unauthenticated(w, r, auth.ErrUnauthenticated)
		return
	}
	out := make([]ResultJSON, len(results))
	for i, res := range results {
		out[i] = ResultJSON{Index: res.Index, Outcome: res.Outcome}
		if res.Ticket != nil {
			id, n := EncodeID(res.Ticket.ID), res.Ticket.Number()
			out[i].TicketID, out[i].TicketNumber = &id, &n
		}
		if e := res.Error; e != nil {
			if e.Code == errs.Internal {
				reqlog.From(ctx, h.Log).Error("ingesting an event", "rule", key, "index", res.Index, "err", e.Err)
			}
			out[i].Error = &errJSON{Code: e.Code, Field: e.Field, Message: e.Message}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !batch {
		if e := out[0].Error; e != nil {
			errs.WriteHTTP(w, r, statusOf(e.Code), results[0].Error)
			return
		}
		_ = json.NewEncoder(w).Encode(out[0])
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"results": out})
}

// parseEvents reads a body of one event or an array of them.
func parseEvents(body []byte, key string) ([]Event, bool, *errs.Error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	d := json.NewDecoder(bytes.NewReader(trimmed))
	d.UseNumber()
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var vals []any
		if err := d.Decode(&vals); err != nil || d.More() {
			return nil, true, errs.Invalid("body", "is not a JSON array of events")
		}
		if len(vals) == 0 || len(vals) > MaxBatch {
			return nil, true, errs.Invalid("body", "1 to %d events at a time, not %d", MaxBatch, len(vals))
		}
		evs := make([]Event, len(vals))
		for i, v := range vals {
			evs[i] = Event{Value: v}
			if key != "" {
				evs[i].Key = fmt.Sprintf("%s#%d", key, i)
			}
		}
		return evs, true, nil
	}
	var v any
	if err := d.Decode(&v); err != nil || d.More() {
		return nil, false, errs.Invalid("body", "is not a JSON event")
	}
	return []Event{{Value: v, Key: key}}, false, nil
}

func statusOf(c errs.Code) int {
	switch c {
	case errs.BadUserInput:
		return http.StatusBadRequest
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

func (h *Handler) unauthenticated(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, auth.ErrUnauthenticated) {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="socdesk"`)
	errs.WriteHTTP(w, r, http.StatusUnauthorized, errs.New(errs.Unauthenticated, "a service token or the rule's signature is required"))
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if reqlog.ClientGone(r.Context()) { // nobody to answer; nothing of ours failed
		reqlog.From(r.Context(), h.Log).Debug("the sender went away while ingesting", "err", err)
		return
	}
	e, ok := errs.As(err)
	if !ok || e.Code == errs.Internal {
		reqlog.From(r.Context(), h.Log).Error("ingesting", "err", err)
		e = errs.New(errs.Internal, "internal error")
	}
	errs.WriteHTTP(w, r, statusOf(e.Code), e)
}

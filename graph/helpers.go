package graph

import (
	"context"
	"encoding/json"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/graph/model"
	"socdesk/graph/scalar"
	"socdesk/internal/authz"
	"socdesk/internal/explanations/link"
	"socdesk/internal/playbooks"
)

// maxNodes bounds nodes(ids:).
const maxNodes = 100

func deleted(id int, err error) (*model.DeletePayload, error) {
	if err != nil {
		return nil, err
	}
	return &model.DeletePayload{DeletedID: id}, nil
}

// countOnlyIfSelected hides pageInfo from entgql's Paginate unless totalCount
// is selected too. Paginate counts every matching row whenever pageInfo is
// selected, but a list page must not pay for a COUNT over millions of rows it
// did not ask for: pageInfo is built from the page itself (Paginate fetches
// one row past it). With a page size of 0 the count is what tells whether
// there is a next page, so it stays; so it does when no edges are selected.
func countOnlyIfSelected(ctx context.Context, first, last *int) context.Context {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || (first != nil && *first == 0) || (last != nil && *last == 0) {
		return ctx
	}
	fields := graphql.CollectFieldsCtx(ctx, nil)
	sel := make(ast.SelectionSet, 0, len(fields))
	edges := false
	for _, f := range fields {
		switch f.Name {
		case "totalCount":
			return ctx
		case "pageInfo":
			continue
		case "edges":
			edges = true
		}
		sel = append(sel, f.Field)
	}
	if !edges {
		return ctx
	}
	narrowed := *fc
	narrowed.Field.Selections = sel
	return graphql.WithFieldContext(ctx, &narrowed)
}

// edgesOnly hides from entgql's Paginate every selection of the
// connection but its edges, for a connection whose page and counts are
// built elsewhere (relatedTickets): Paginate then only loads the nodes with
// what they select, and counts nothing.
func edgesOnly(ctx context.Context) context.Context {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return ctx
	}
	var sel ast.SelectionSet
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == "edges" {
			sel = append(sel, f.Field)
		}
	}
	narrowed := *fc
	narrowed.Field.Selections = sel
	return graphql.WithFieldContext(ctx, &narrowed)
}

// linkView is a link as seen from the ticket id: its direction and the
// ticket at the other end (l's tickets and creator loaded or loadable).
func linkView(ctx context.Context, l *ent.TicketLink, from int) (*model.TicketLink, error) {
	v := &model.TicketLink{ID: l.ID, Kind: l.Kind, CreatedAt: l.CreatedAt, Direction: model.LinkDirectionOutgoing}
	var err error
	if l.FromID != from {
		v.Direction = model.LinkDirectionIncoming
		v.Ticket = l.Edges.From
		if v.Ticket == nil {
			v.Ticket, err = l.QueryFrom().Only(ctx)
		}
	} else {
		v.Ticket = l.Edges.To
		if v.Ticket == nil {
			v.Ticket, err = l.QueryTo().Only(ctx)
		}
	}
	if err != nil {
		return nil, err
	}
	if v.CreatedBy = l.Edges.CreatedBy; v.CreatedBy == nil && l.CreatedByID != nil {
		if v.CreatedBy, err = l.QueryCreatedBy().Only(ctx); err != nil && !ent.IsNotFound(err) {
			return nil, err
		}
	}
	return v, nil
}

// redacted is a history change as the viewer may see it (authz.Redact): a
// link's other ticket is withheld from a viewer who cannot see it. History,
// ticketHistory and the live stream all show changes through here.
func (r *fieldChangeResolver) redacted(ctx context.Context, field schematype.ChangedField, v any) (any, error) {
	out, err := authz.RedactChanges(ctx, r.Client, authz.ScopeFrom(ctx), []schematype.FieldChange{{Field: field, To: v}})
	if err != nil {
		return nil, err
	}
	return out[0].To, nil
}

// presentChange shows a history value as clients know it: references to
// other records (stored as their ids) as the API's opaque IDs.
func presentChange(field schematype.ChangedField, v any) any {
	v = generic(v)
	switch field {
	case schematype.ChangeCategory, schematype.ChangeSite, schematype.ChangeMemo, schematype.ChangeOwner:
		return presentID(v)
	case schematype.ChangeAssignees, schematype.ChangeApprovers, schematype.ChangeTags, schematype.ChangePolicies:
		if list, ok := v.([]any); ok {
			out := make([]any, len(list))
			for i, x := range list {
				out[i] = presentID(x)
			}
			return out
		}
	case schematype.ChangeWatcher:
		return presentKeys(v, "user")
	case schematype.ChangeWatchers: // a task's or schedule's, [{user, notify}]
		if list, ok := v.([]any); ok {
			out := make([]any, len(list))
			for i, x := range list {
				out[i] = presentKeys(x, "user")
			}
			return out
		}
	case schematype.ChangeSchedule:
		return presentKeys(v, "schedule")
	case schematype.ChangeDelivery:
		return presentKeys(v, "id", "recipient")
	case schematype.ChangePlaybookRun:
		return presentKeys(v, "id")
	}
	return v
}

// generic is v as JSON decodes it (a change recorded in this process holds
// the Go values it was made of; one read back, JSON's).
func generic(v any) any {
	switch v.(type) {
	case nil, string, bool, float64, json.Number, []any, map[string]any:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

// presentKeys is the object v with the ids under keys as opaque IDs.
func presentKeys(v any, keys ...string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for k, x := range m {
		out[k] = x
	}
	for _, k := range keys {
		if x, ok := m[k]; ok && x != nil {
			out[k] = presentID(x)
		}
	}
	return out
}

func presentID(v any) any {
	switch n := v.(type) {
	case float64:
		return scalar.EncodeID(int(n))
	case int:
		return scalar.EncodeID(n)
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return scalar.EncodeID(int(i))
		}
	}
	return v
}

// selected reports whether the operation selects the field at path below
// the field being resolved (through fragments).
func selected(ctx context.Context, path ...string) bool {
	fc, oc := graphql.GetFieldContext(ctx), graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		return false
	}
	sel := fc.Field.Selections
	for _, name := range path {
		found := false
		for _, f := range graphql.CollectFields(oc, sel, nil) {
			if f.Name == name {
				sel, found = f.Selections, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// withWorkflow loads with each ticket what its availableActions need (its
// category and people), in one query per edge for the whole page, when the
// operation selects them at path.
func withWorkflow(ctx context.Context, q *ent.TicketQuery, path ...string) *ent.TicketQuery {
	if !selected(ctx, append(path, "availableActions")...) {
		return q
	}
	return authz.WithPeople(q.WithCategory())
}

// zoneOrUTC is the time zone argument, UTC when not given.
func zoneOrUTC(tz *string) string {
	if tz == nil {
		return "UTC"
	}
	return *tz
}

// bulkError is how a per-item failure of a bulk call shows (nil for none).
func (r *Resolver) bulkError(ctx context.Context, err error) *model.BulkError {
	if err == nil {
		return nil
	}
	e := r.errorFor(ctx, err)
	out := &model.BulkError{Code: string(e.Code), Message: e.Error()}
	if e.Field != "" {
		out.Field = &e.Field
	}
	return out
}

// Deliveries and playbook runs are listed newest first.
var (
	newestDeliveries = ent.WithDeliveryOrder(&ent.DeliveryOrder{Direction: entgql.OrderDirectionDesc, Field: ent.DeliveryOrderFieldCreatedAt})
	newestRuns       = ent.WithPlaybookRunOrder(&ent.PlaybookRunOrder{Direction: entgql.OrderDirectionDesc, Field: ent.PlaybookRunOrderFieldCreatedAt})
	// newestExplanations: by creation time, then id (entgql's tie-break).
	newestExplanations = ent.WithExplanationRequestOrder(&ent.ExplanationRequestOrder{Direction: entgql.OrderDirectionDesc, Field: ent.ExplanationRequestOrderFieldCreatedAt})
)

// playbookRequest is the request a playbook sends, as admins see it.
func playbookRequest(p *ent.Playbook) *model.PlaybookRequest {
	names := make([]string, 0, len(p.SecretHeaders))
	for _, h := range playbooks.Headers(p.SecretHeaders) {
		names = append(names, h.Name)
	}
	headers := []*playbooks.Header{}
	for _, h := range playbooks.Headers(p.Headers) {
		headers = append(headers, &h)
	}
	req := &model.PlaybookRequest{URL: p.URL, Method: p.Method, Headers: headers, SecretHeaderNames: names, TimeoutMs: p.TimeoutMs}
	if p.PayloadTemplate != "" {
		req.PayloadTemplate = &p.PayloadTemplate
	}
	return req
}

// linkToken is the personal link token the request carries ("" without one:
// the link operations then answer UNAUTHENTICATED).
func linkToken(ctx context.Context) string {
	raw, _ := link.TokenFrom(ctx)
	return raw
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

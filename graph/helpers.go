package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"socdesk/ent"
	"socdesk/graph/model"
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

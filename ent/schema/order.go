package schema

import (
	"context"
	"slices"

	"entgo.io/ent"
	"entgo.io/ent/dialect/sql"

	gen "socdesk/ent"
)

// Interceptors of the User, Tag, Site, Category, Attachment and
// TicketWatcher give the lists the API returns without an ordering argument
// an order of their own, so that two identical requests answer alike: people
// by login; tags, sites and categories by name; attachments and watchers in
// the order they were made (by id).
func (User) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{listOrder(gen.TypeUser, "login")}
}

// Interceptors of the Tag: see User.Interceptors.
func (Tag) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{listOrder(gen.TypeTag, "name")}
}

// Interceptors of the Site: see User.Interceptors.
func (Site) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{listOrder(gen.TypeSite, "name")}
}

// Interceptors of the Category: see User.Interceptors.
func (Category) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{listOrder(gen.TypeCategory, "name")}
}

// Interceptors of the Attachment: see User.Interceptors.
func (Attachment) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{listOrder(gen.TypeAttachment)}
}

// Interceptors of the TicketWatcher: see User.Interceptors.
func (TicketWatcher) Interceptors() []ent.Interceptor {
	return []ent.Interceptor{listOrder(gen.TypeTicketWatcher)}
}

// listOrder orders the rows of a type by keys, then id (the order rows were
// made in), after any ordering the query has: in every list entgql's field
// collection eager-loads as an edge of another type's query
// (ticket.assignees, ticket.tags, user.sites, ticket.watchers …), and in the
// type's own All queries (the same edges loaded on demand, the root lists).
// A column is ordered by only when the query selects it: a query that
// traverses an edge is DISTINCT, and may be ordered only by what it selects
// (so `assignees { id }` comes by id).
func listOrder(typ string, keys ...string) ent.Interceptor {
	order := func(s *sql.Selector) {
		selected := s.SelectedColumns()
		for _, c := range append(keys, "id") {
			if slices.Contains(selected, s.C(c)) {
				s.OrderBy(s.C(c))
			}
		}
	}
	return ent.TraverseFunc(func(ctx context.Context, q ent.Query) error {
		if qc := ent.QueryFromContext(ctx); qc == nil || (qc.Type == typ && qc.Op != ent.OpQueryAll) {
			return nil
		}
		switch q := q.(type) {
		case *gen.UserQuery:
			q.Order(order)
		case *gen.TagQuery:
			q.Order(order)
		case *gen.SiteQuery:
			q.Order(order)
		case *gen.CategoryQuery:
			q.Order(order)
		case *gen.AttachmentQuery:
			q.Order(order)
		case *gen.TicketWatcherQuery:
			q.Order(order)
		}
		return nil
	})
}

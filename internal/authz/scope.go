package authz

import (
	"context"
	"slices"

	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/attachment"
	"socdesk/ent/memo"
	"socdesk/ent/predicate"
	"socdesk/ent/schematype"
	"socdesk/ent/site"
	"socdesk/ent/taskschedule"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketapprover"
	"socdesk/ent/ticketassignee"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketlink"
	"socdesk/ent/ticketwatcher"
	"socdesk/ent/user"
	"socdesk/internal/viewer"
)

// Scope is the site rule: which sites, tickets, history entries and users a
// viewer may see. Each kind of row gets its SQL half (a predicate the
// policies add to every query) and its memory half (for rows already read,
// as the live hub, the trend and the ticket service hold them) side by side,
// so that the two cannot say different things. scope_test checks they agree.
//
// The rule: admins see everything. Anyone else sees the sites assigned to
// them; with TICKET_VIEW, the tickets of those sites and their history (a
// deleted ticket's history through the site each entry was written on); and
// the users who share a site with them, the admins, themselves, and the
// people of what they see (a ticket's assignees, its history's actors...).
type Scope struct{ v *viewer.Viewer }

// ScopeOf is the scope of v; a nil viewer sees nothing.
func ScopeOf(v *viewer.Viewer) Scope { return Scope{v} }

// ScopeFrom is the scope of the viewer of ctx.
func ScopeFrom(ctx context.Context) Scope { return ScopeOf(viewer.FromContext(ctx)) }

// All reports whether the scope is everything (an admin's).
func (s Scope) All() bool { return s.v.IsAdmin() }

// readsTickets reports whether the viewer may read tickets at all.
func (s Scope) readsTickets() bool { return s.v.Has(schematype.PermissionTicketView) }

func everything(*sql.Selector)    {}
func nothingAt(sel *sql.Selector) { sel.Where(sql.False()) }

// Sites: a site is seen when it is one of the viewer's. viewer.SeesSite is
// this half in memory (kept there for code that holds only a viewer).

// SeesSite reports whether the viewer sees the site.
func (s Scope) SeesSite(id int) bool { return s.v.SeesSite(id) }

// SiteWhere is SeesSite in SQL.
func (s Scope) SiteWhere() predicate.Site {
	if s.All() {
		return everything
	}
	return site.IDIn(s.siteIDs()...)
}

func (s Scope) siteIDs() []int {
	if s.v == nil {
		return nil
	}
	return s.v.SiteIDs
}

// Within is the part of sites (nil: every site) the viewer sees: all is true
// for every site, else ids lists them, sorted and without repeats.
func (s Scope) Within(sites []int) (ids []int, all bool) {
	switch {
	case s.All() && sites == nil:
		return nil, true
	case sites == nil:
		ids = slices.Clone(s.siteIDs())
	default:
		ids = slices.DeleteFunc(slices.Clone(sites), func(id int) bool { return !s.SeesSite(id) })
	}
	slices.Sort(ids)
	return slices.Compact(ids), false
}

// Tickets: a ticket is seen, with TICKET_VIEW, when its site is.

// SeesTicket reports whether the viewer sees a ticket of the site.
func (s Scope) SeesTicket(siteID int) bool { return s.readsTickets() && s.SeesSite(siteID) }

// TicketWhere is SeesTicket in SQL.
func (s Scope) TicketWhere() predicate.Ticket { return OnSites(s, ticket.SiteIDIn) }

// OnSites is SeesTicket in SQL for any row read like a ticket of its site
// (the trend's rollups): in is the In predicate of its site column.
func OnSites[P ~func(*sql.Selector)](s Scope, in func(...int) P) P {
	switch {
	case !s.readsTickets():
		return nothingAt
	case s.All():
		return everything
	}
	return in(s.siteIDs()...)
}

// History: an entry is seen with its ticket while the ticket exists, and
// through the site it was written on once the ticket is gone.

// SeesEntry reports whether the viewer sees a history entry written on
// entrySite of a ticket now on ticketSite (nil once it is deleted).
func (s Scope) SeesEntry(ticketSite *int, entrySite int) bool {
	if ticketSite != nil {
		return s.SeesTicket(*ticketSite)
	}
	return s.SeesTicket(entrySite)
}

// EntryWhere is SeesEntry in SQL.
func (s Scope) EntryWhere() predicate.TicketEvent {
	return OfTicket(s, TicketColumns[predicate.TicketEvent]{
		HasTicketWith: ticketevent.HasTicketWith, TicketIDIsNil: ticketevent.TicketIDIsNil,
		SiteIDIn: ticketevent.SiteIDIn, Or: ticketevent.Or, And: ticketevent.And,
	})
}

// TicketColumns are the predicates of a table whose rows belong to a ticket
// (ticket_id, NULL once it is deleted) and record the site they were
// written on (site_id): history entries, deliveries, playbook runs.
type TicketColumns[P ~func(*sql.Selector)] struct {
	HasTicketWith func(...predicate.Ticket) P
	TicketIDIsNil func() P
	SiteIDIn      func(...int) P
	Or, And       func(...P) P
}

// OfTicket is SeesEntry in SQL for any such table: a row is seen with its
// ticket while the ticket exists, wherever it has moved, and through the
// site it was written on once the ticket is gone.
func OfTicket[P ~func(*sql.Selector)](s Scope, c TicketColumns[P]) P {
	if s.All() || !s.readsTickets() {
		return OnSites(s, c.SiteIDIn)
	}
	return c.Or(c.HasTicketWith(s.TicketWhere()), c.And(c.TicketIDIsNil(), OnSites(s, c.SiteIDIn)))
}

// Users: a user is seen when they share a site with the viewer, are an
// admin, are the viewer, or take part in something the viewer sees: as an
// assignee, approver, watcher or registrant of a ticket, the author of one of
// its memos, the uploader of one of its attachments, the maker of a link
// between two tickets, or the actor of a history entry. Without these parts
// the people of a ticket the viewer reads would vanish from it when they
// lose the site (issue 9, 1i).

// UserRef is what the rule needs of a user. The memory half cannot look up
// where a user takes part, so its caller brings that in Parts.
type UserRef struct {
	ID    int
	Admin bool
	Sites []int
	Parts []Part
}

// Part is one thing a user takes part in, by the sites of the tickets it is
// seen with (SeesTicket of each): a link's two tickets; a history entry's
// ticket, or, once the ticket is deleted, the site it was written on (as
// SeesEntry reads it); else its one ticket.
type Part []int

// UserRefOf is the UserRef of u, whose sites must be loaded; the caller adds
// the Parts.
func UserRefOf(u *ent.User) UserRef {
	r := UserRef{ID: u.ID, Admin: u.Role == user.RoleADMIN}
	for _, st := range u.Edges.Sites {
		r.Sites = append(r.Sites, st.ID)
	}
	return r
}

// SeesUser reports whether the viewer sees the user u.
func (s Scope) SeesUser(u UserRef) bool {
	switch {
	case s.v == nil:
		return false
	case s.All(), u.Admin, u.ID == s.v.UserID:
		return true
	case slices.ContainsFunc(u.Sites, func(id int) bool { return slices.Contains(s.v.SiteIDs, id) }):
		return true
	}
	return slices.ContainsFunc(u.Parts, func(p Part) bool {
		return len(p) > 0 && !slices.ContainsFunc(p, func(site int) bool { return !s.SeesTicket(site) })
	})
}

// UserWhere is SeesUser in SQL. Each part is an EXISTS on the table that
// holds it, found through an index on its user column (the ticket lists load
// the people of up to 100 tickets with it), the cheap clauses first.
func (s Scope) UserWhere() predicate.User {
	switch {
	case s.v == nil:
		return nothingAt
	case s.All():
		return everything
	}
	or := []predicate.User{user.ID(s.v.UserID), user.RoleEQ(user.RoleADMIN), user.HasSitesWith(site.IDIn(s.v.SiteIDs...))}
	if s.readsTickets() {
		seen := s.TicketWhere()
		or = append(or,
			takesPart(ticketassignee.Table, ticketassignee.FieldUserID, ticketassignee.HasTicketWith(seen)),
			takesPart(ticketapprover.Table, ticketapprover.FieldUserID, ticketapprover.HasTicketWith(seen)),
			takesPart(ticketwatcher.Table, ticketwatcher.FieldUserID, ticketwatcher.HasTicketWith(seen)),
			takesPart(ticket.Table, ticket.FieldRegisteredByID, seen),
			takesPart(memo.Table, memo.FieldAuthorID, memo.HasTicketWith(seen)),
			takesPart(attachment.Table, attachment.FieldUploadedByID, attachment.HasTicketWith(seen)),
			takesPart(ticketlink.Table, ticketlink.FieldCreatedByID, ticketlink.HasFromWith(seen), ticketlink.HasToWith(seen)),
			takesPart(ticketevent.Table, ticketevent.FieldActorID, s.EntryWhere()),
		)
	}
	return user.Or(or...)
}

// takesPart is EXISTS (SELECT FROM table WHERE table.column = users.id AND
// seen...): the user takes part in a row of table that the viewer sees.
// ent's Has…With on a many-to-many edge is an uncorrelated IN over every
// visible ticket's people instead, which is why these are written here.
func takesPart[P ~func(*sql.Selector)](table, column string, seen ...P) predicate.User {
	return func(sel *sql.Selector) {
		b := sql.Dialect(sel.Dialect())
		t := b.Table(table)
		part := b.Select(t.C(column)).From(t).Where(sql.ColumnsEQ(t.C(column), sel.C(user.FieldID)))
		for _, p := range seen {
			p(part)
		}
		sel.Where(sql.Exists(part))
	}
}

// AsViewer is the viewer u would be (to ask what u may see: an assignee
// must be able to open their ticket); u's sites must be loaded.
func AsViewer(u *ent.User) *viewer.Viewer {
	v := &viewer.Viewer{UserID: u.ID, Login: u.Login, Role: viewer.Role(u.Role), Permissions: u.Permissions}
	for _, st := range u.Edges.Sites {
		v.SiteIDs = append(v.SiteIDs, st.ID)
	}
	return v
}

// Task schedules: a schedule is seen, with TICKET_VIEW, when its site is
// (the tasks it generates are tickets of that site).

// SeesSchedule reports whether the viewer sees a task schedule of the site.
func (s Scope) SeesSchedule(siteID int) bool { return s.SeesTicket(siteID) }

// ScheduleWhere is SeesSchedule in SQL.
func (s Scope) ScheduleWhere() predicate.TaskSchedule { return OnSites(s, taskschedule.SiteIDIn) }

// Package seed loads demo and benchmark data.
//
// Demo loads a small, realistic data set for trying socdesk out; Synthetic
// generates large numbers of tickets of realistic shape for benchmarks. Both
// write every ticket's history as TicketEvent rows: a CREATED event (status
// and title set) followed by one TRANSITIONED event per status change, so that
// features computing status trends from the history see consistent data.
package seed

import (
	"context"
	"fmt"
	"slices"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/ent/site"
	"socdesk/ent/tag"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	ticketsvc "socdesk/internal/tickets"
	"socdesk/internal/trend"
)

const (
	demoSeed      = 20240501
	syntheticSeed = 1000003
	demoTickets   = 300
	demoSpan      = 90 * 24 * time.Hour
)

// Demo loads a small realistic demo data set: 5 sites, 8 categories (2 with
// the INCIDENT_RESPONSE workflow, the rest APPROVAL), 12 users (analysts with
// site assignments, view-only analysts and the service account "detector",
// which registers SYSTEM tickets), 15 tags and 300 tickets created over the
// last 90 days, in every status of their workflow, with assignees, approvers,
// tags, memos and status histories.
//
// Demo does nothing when tickets exist already. Sites, categories, tags and
// users that exist by name (login) are reused. It never creates the admin
// user. The data is deterministic apart from being relative to the current
// time; everything is written in one transaction through the ent client, so
// it works on SQLite and PostgreSQL alike.
func Demo(ctx context.Context, client *ent.Client) error {
	ctx = privacy.DecisionContext(ctx, privacy.Allow)
	exists, err := client.Ticket.Query().Exist(ctx)
	if err != nil {
		return fmt.Errorf("seed: checking for tickets: %w", err)
	}
	if exists {
		return nil
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("seed: starting transaction: %w", err)
	}
	if err := demo(ctx, tx.Client()); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seed: committing demo data: %w", err)
	}
	if err := trend.Rebuild(ctx, client, ""); err != nil { // small: row by row on either database
		return fmt.Errorf("seed: rolling up the trend: %w", err)
	}
	return nil
}

func demo(ctx context.Context, c *ent.Client) error {
	now := time.Now().UTC().Truncate(time.Second)
	refTime := now.Add(-demoSpan - 30*24*time.Hour)
	r, err := ensureRefs(ctx, c, refTime, siteSpecs[:5], demoCategories, tagNames[:15], demoUsers)
	if err != nil {
		return err
	}
	g := newGenerator(demoSeed, now, demoSpan, r, true)
	tickets := make([]*genTicket, 0, demoTickets)
	// One ticket in every status of each workflow first, then the rest at random.
	for _, wf := range []category.Workflow{category.WorkflowAPPROVAL, category.WorkflowINCIDENT_RESPONSE} {
		for _, s := range workflowStatuses(wf) {
			tickets = append(tickets, g.ticket(spec{workflow: wf, status: s}))
		}
	}
	for len(tickets) < demoTickets {
		tickets = append(tickets, g.ticket(spec{}))
	}
	// Numbers follow creation times, as they would in real use.
	slices.SortStableFunc(tickets, func(a, b *genTicket) int { return a.createdAt.Compare(b.createdAt) })
	return writeEnt(ctx, c, tickets)
}

// ensureRefs creates the sites, categories, tags and users that are missing
// (by name or login), and returns the references tickets are generated from.
func ensureRefs(ctx context.Context, c *ent.Client, at time.Time, sites []siteSpec, cats []categorySpec, tags []string, users []userSpec) (*refs, error) {
	r := &refs{
		siteNames:  map[int]string{},
		byWorkflow: map[category.Workflow][]int{},
		editors:    map[int][]int{},
		logins:     map[int]string{},
	}
	var err error
	if r.sites, err = ensureSites(ctx, c, at, sites); err != nil {
		return nil, err
	}
	for i, id := range r.sites {
		r.siteNames[id] = sites[i].name
	}
	if r.categories, err = ensureCategories(ctx, c, at, cats); err != nil {
		return nil, err
	}
	for i, cr := range r.categories {
		r.byWorkflow[cr.workflow] = append(r.byWorkflow[cr.workflow], i)
	}
	for _, wf := range []category.Workflow{category.WorkflowAPPROVAL, category.WorkflowINCIDENT_RESPONSE} {
		if len(r.byWorkflow[wf]) == 0 {
			return nil, fmt.Errorf("seed: no category with workflow %s", wf)
		}
	}
	if r.tags, err = ensureTags(ctx, c, at, tags); err != nil {
		return nil, err
	}
	if err := ensureUsers(ctx, c, at, users, r.sites); err != nil {
		return nil, err
	}
	if err := loadUsers(ctx, c, users, r); err != nil {
		return nil, err
	}
	return r, nil
}

// bulkSize bounds the rows of one ent bulk insert (SQLite allows 32,766
// parameters per statement).
const bulkSize = 250

func chunks[T any](s []T, n int) [][]T {
	var out [][]T
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}

func ensureSites(ctx context.Context, c *ent.Client, at time.Time, specs []siteSpec) ([]int, error) {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	have := map[string]int{}
	for _, names := range chunks(names, bulkSize) {
		existing, err := c.Site.Query().Where(site.NameIn(names...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("seed: reading sites: %w", err)
		}
		for _, s := range existing {
			have[s.Name] = s.ID
		}
	}
	var missing []*ent.SiteCreate
	for _, s := range specs {
		if _, ok := have[s.name]; !ok {
			missing = append(missing, c.Site.Create().SetName(s.name).SetDescription(s.description).
				SetCreatedAt(at).SetUpdatedAt(at))
		}
	}
	for _, b := range chunks(missing, bulkSize) {
		created, err := c.Site.CreateBulk(b...).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("seed: creating sites: %w", err)
		}
		for _, s := range created {
			have[s.Name] = s.ID
		}
	}
	ids := make([]int, len(specs))
	for i, s := range specs {
		ids[i] = have[s.name]
	}
	return ids, nil
}

func ensureCategories(ctx context.Context, c *ent.Client, at time.Time, specs []categorySpec) ([]catRef, error) {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	have := map[string]*ent.Category{}
	for _, names := range chunks(names, bulkSize) {
		existing, err := c.Category.Query().Where(category.NameIn(names...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("seed: reading categories: %w", err)
		}
		for _, cat := range existing {
			have[cat.Name] = cat
		}
	}
	var missing []*ent.CategoryCreate
	for _, s := range specs {
		if _, ok := have[s.name]; !ok {
			missing = append(missing, c.Category.Create().SetName(s.name).SetDescription(s.description).
				SetWorkflow(s.workflow).SetCreatedAt(at).SetUpdatedAt(at))
		}
	}
	for _, b := range chunks(missing, bulkSize) {
		created, err := c.Category.CreateBulk(b...).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("seed: creating categories: %w", err)
		}
		for _, cat := range created {
			have[cat.Name] = cat
		}
	}
	out := make([]catRef, len(specs))
	for i, s := range specs {
		cat := have[s.name]
		// An existing category keeps its own workflow.
		out[i] = catRef{id: cat.ID, workflow: cat.Workflow, theme: s.theme, detection: s.detection}
	}
	return out, nil
}

func ensureTags(ctx context.Context, c *ent.Client, at time.Time, names []string) ([]int, error) {
	have := map[string]int{}
	for _, names := range chunks(names, bulkSize) {
		existing, err := c.Tag.Query().Where(tag.NameIn(names...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("seed: reading tags: %w", err)
		}
		for _, t := range existing {
			have[t.Name] = t.ID
		}
	}
	var missing []*ent.TagCreate
	for i, n := range names {
		if _, ok := have[n]; !ok {
			missing = append(missing, c.Tag.Create().SetName(n).SetColor(tagColors[i%len(tagColors)]).
				SetCreatedAt(at).SetUpdatedAt(at))
		}
	}
	for _, b := range chunks(missing, bulkSize) {
		created, err := c.Tag.CreateBulk(b...).Save(ctx)
		if err != nil {
			return nil, fmt.Errorf("seed: creating tags: %w", err)
		}
		for _, t := range created {
			have[t.Name] = t.ID
		}
	}
	ids := make([]int, len(names))
	for i, n := range names {
		ids[i] = have[n]
	}
	return ids, nil
}

func ensureUsers(ctx context.Context, c *ent.Client, at time.Time, specs []userSpec, siteIDs []int) error {
	have := map[string]bool{}
	for _, part := range chunks(specs, bulkSize) {
		logins := make([]string, len(part))
		for i, s := range part {
			logins[i] = s.login
		}
		existing, err := c.User.Query().Where(user.LoginIn(logins...)).Select(user.FieldLogin).Strings(ctx)
		if err != nil {
			return fmt.Errorf("seed: reading users: %w", err)
		}
		for _, l := range existing {
			have[l] = true
		}
	}
	var missing []*ent.UserCreate
	for _, s := range specs {
		if have[s.login] {
			continue
		}
		sites := siteIDs
		if s.sites != nil {
			sites = make([]int, len(s.sites))
			for i, j := range s.sites {
				sites[i] = siteIDs[j]
			}
		}
		b := c.User.Create().SetLogin(s.login).SetDisplayName(s.displayName).
			SetRole(user.RoleANALYST).SetPermissions(s.perms).AddSiteIDs(sites...).
			SetCreatedAt(at).SetUpdatedAt(at)
		if !s.service {
			b.SetEmail(s.login + "@corp.example.com")
		}
		missing = append(missing, b)
	}
	for _, b := range chunks(missing, bulkSize) {
		if err := c.User.CreateBulk(b...).Exec(ctx); err != nil {
			return fmt.Errorf("seed: creating users: %w", err)
		}
	}
	return nil
}

// loadUsers fills the user references of r: who may work on which site's
// tickets, and the service accounts.
func loadUsers(ctx context.Context, c *ent.Client, specs []userSpec, r *refs) error {
	service := map[string]bool{}
	for _, s := range specs {
		if s.service {
			service[s.login] = true
		}
	}
	byLogin := map[string]*ent.User{}
	for _, part := range chunks(specs, bulkSize) {
		logins := make([]string, len(part))
		for i, s := range part {
			logins[i] = s.login
		}
		users, err := c.User.Query().Where(user.LoginIn(logins...)).WithSites(func(q *ent.SiteQuery) {
			q.Select(site.FieldID)
		}).All(ctx)
		if err != nil {
			return fmt.Errorf("seed: reading users: %w", err)
		}
		for _, u := range users {
			byLogin[u.Login] = u
		}
	}
	// Walk in spec order, so that the result does not depend on map order.
	for _, s := range specs {
		u := byLogin[s.login]
		if u == nil {
			continue
		}
		r.logins[u.ID] = u.Login
		if service[u.Login] {
			r.services = append(r.services, u.ID)
			continue
		}
		if !slices.Contains(u.Permissions, schematype.PermissionTicketEdit) && u.Role != user.RoleADMIN {
			continue
		}
		r.allEditors = append(r.allEditors, u.ID)
		for _, st := range u.Edges.Sites {
			r.editors[st.ID] = append(r.editors[st.ID], u.ID)
		}
	}
	if len(r.services) == 0 || len(r.allEditors) == 0 {
		return fmt.Errorf("seed: need at least one service account and one analyst who may edit tickets")
	}
	return nil
}

// writeEnt stores tickets, their join rows, events and memos through the ent
// client. Tickets without an id get one from the database.
func writeEnt(ctx context.Context, c *ent.Client, tickets []*genTicket) error {
	for _, part := range chunks(tickets, bulkSize) {
		builders := make([]*ent.TicketCreate, len(part))
		for i, t := range part {
			b := c.Ticket.Create().
				SetCreatedAt(t.createdAt).SetUpdatedAt(t.updatedAt).
				SetTitle(t.title).SetKind(t.kind).SetBody(t.body).SetBodyFormat(t.bodyFormat).
				SetCategoryID(t.categoryID).SetSiteID(t.siteID).
				SetPriority(t.priority).SetPriorityRank(priorityRank(t.priority)).
				SetStatus(t.status).SetNillableAttackVerdict(t.verdict).SetIncident(t.incident).
				SetOrigin(t.origin).SetNillableRegisteredByID(t.registeredBy).
				SetDuplicateCount(t.duplicateCount).SetNillableClosedAt(t.closedAt).
				SetVersion(len(t.events)).
				AddAssigneeIDs(t.assignees...).AddApproverIDs(t.approvers...).AddTagIDs(t.tags...)
			if t.id != 0 {
				b.SetID(t.id)
			}
			if d := t.det; d != nil {
				b.SetDetectionTemplate(d.template).
					SetFirstDetectedAt(d.firstSeen).SetLastDetectedAt(d.lastSeen).
					SetNillableSrcPort(d.srcPort).SetNillableDstPort(d.dstPort).
					SetCustomFields(d.custom)
				setNonEmpty(b.SetSrcIP, d.srcIP)
				setNonEmpty(b.SetDstIP, d.dstIP)
				setNonEmpty(b.SetProtocol, d.protocol)
				setNonEmpty(b.SetHost, d.host)
			}
			builders[i] = b
		}
		saved, err := c.Ticket.CreateBulk(builders...).Save(ctx)
		if err != nil {
			return fmt.Errorf("seed: creating tickets: %w", err)
		}
		for i, s := range saved {
			part[i].id = s.ID
		}
	}

	// Memos first, for their ids; then each ticket's history, its status
	// changes and its memos in the order they happened.
	var memos []*ent.MemoCreate
	for _, t := range tickets {
		for _, m := range t.memos {
			memos = append(memos, c.Memo.Create().SetTicketID(t.id).SetBody(m.body).
				SetNillableAuthorID(m.author).SetCreatedAt(m.at).SetUpdatedAt(m.at))
		}
	}
	var memoIDs []int
	for _, b := range chunks(memos, bulkSize) {
		saved, err := c.Memo.CreateBulk(b...).Save(ctx)
		if err != nil {
			return fmt.Errorf("seed: creating memos: %w", err)
		}
		for _, m := range saved {
			memoIDs = append(memoIDs, m.ID)
		}
	}
	var events []*ent.TicketEventCreate
	for _, t := range tickets {
		number := ent.TicketNumber(t.id)
		history := slices.Clone(t.events)
		for _, m := range t.memos {
			history = append(history, genEvent{kind: ticketevent.KindMEMO_ADDED, at: m.at, actor: m.author,
				changes: []schematype.FieldChange{{Field: "memo", To: memoIDs[0]}}})
			memoIDs = memoIDs[1:]
		}
		slices.SortStableFunc(history, func(a, b genEvent) int { return a.at.Compare(b.at) })
		for _, e := range history {
			ev := c.TicketEvent.Create().
				SetKind(e.kind).SetCreatedAt(e.at).SetTicketID(t.id).SetTicketNumber(number).
				SetSiteID(t.siteID).SetNillableActorID(e.actor).SetChanges(e.changes)
			if st, ok := ticketsvc.StatusSet(e.changes); ok {
				ev.SetStatus(string(st))
			}
			events = append(events, ev)
		}
	}
	for _, b := range chunks(events, 4*bulkSize) {
		if err := c.TicketEvent.CreateBulk(b...).Exec(ctx); err != nil {
			return fmt.Errorf("seed: creating ticket events: %w", err)
		}
	}
	return nil
}

func setNonEmpty(set func(string) *ent.TicketCreate, v string) {
	if v != "" {
		set(v)
	}
}

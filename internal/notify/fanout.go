package notify

import (
	"context"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"socdesk/ent"
	"socdesk/ent/channel"
	"socdesk/ent/delivery"
	"socdesk/ent/schematype"
	"socdesk/ent/site"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/ent/ticketwatcher"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/txn"
)

// FanoutArgs is the job that turns one history entry into deliveries.
type FanoutArgs struct {
	EventID int `json:"event_id"`
	// Ticket is the ticket as the change left it (title, status, priority,
	// site), read in the change's transaction: the fan-out may run after
	// later changes, and the message tells of this one.
	Ticket *Summary `json:"ticket,omitempty"`
}

// Kind implements river.JobArgs.
func (FanoutArgs) Kind() string { return "notify.fanout" }

// LaterPriority is River's priority of fan-out and digest jobs: behind the
// deliveries (the default, 1), so that a burst of changes does not hold back
// the messages of those already fanned out.
const LaterPriority = 2

// Followers enqueues, in the change's transaction, a fan-out job for each
// history entry that someone may hear of (see OccasionOf): tickets.Service
// calls it for every change.
func (s *Service) Followers(ctx context.Context, tx *ent.Tx, evs []*ent.TicketEvent) error {
	var params []river.InsertManyParams
	seen := map[int]*Summary{}
	for _, ev := range evs {
		if _, ok := OccasionOf(ev.Kind, ev.Changes); !ok || ev.TicketID == nil {
			continue
		}
		sum, ok := seen[*ev.TicketID]
		if t := ev.Edges.Ticket; !ok && t != nil { // as the change left it (tickets' record)
			if t.Edges.Site == nil { // read its name, on a copy: the caller's ticket keeps its edges
				st, err := tx.Site.Query().Where(site.ID(t.SiteID)).Select(site.FieldName).Only(authz.System(ctx))
				if err != nil {
					return err
				}
				c := *t
				c.Edges.Site = st
				t = &c
			}
			v := s.summary(t, "", "")
			sum = &v
			seen[*ev.TicketID] = sum
		}
		params = append(params, river.InsertManyParams{Args: FanoutArgs{EventID: ev.ID, Ticket: sum}, InsertOpts: &river.InsertOpts{Priority: LaterPriority}})
	}
	if len(params) == 0 {
		return nil
	}
	return s.Jobs.InsertMany(ctx, params)
}

type fanoutWorker struct {
	river.WorkerDefaults[FanoutArgs]
	s *Service
}

func (w *fanoutWorker) Work(ctx context.Context, job *river.Job[FanoutArgs]) error {
	return w.s.fanout(authz.System(ctx), job.Args.EventID, job.Args.Ticket)
}

// fanout makes the deliveries of history entry id in one transaction: all
// of them or none, and none again when a redelivered job finds them made.
func (s *Service) fanout(ctx context.Context, id int, then *Summary) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		ev, err := tx.TicketEvent.Query().Where(ticketevent.ID(id)).WithActor().Only(ctx)
		if ent.IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
		o, ok := OccasionOf(ev.Kind, ev.Changes)
		if !ok || ev.TicketID == nil {
			return nil
		}
		if done, err := tx.Delivery.Query().Where(delivery.EventID(id)).Exist(ctx); err != nil || done {
			return err
		}
		t, err := authz.WithPeople(tx.Ticket.Query().Where(ticket.ID(*ev.TicketID))).
			WithSite(func(q *ent.SiteQuery) { q.Select(site.FieldName) }).
			WithWatchers().Only(ctx)
		if ent.IsNotFound(err) {
			return nil // deleted since
		} else if err != nil {
			return err
		}
		assignees, approvers := authz.People(t)
		p := People{Assignees: assignees, Approvers: approvers, Registrant: t.RegisteredByID, Watchers: map[int]ticketwatcher.Notify{}}
		for _, w := range t.Edges.Watchers {
			p.Watchers[w.UserID] = w.Notify
		}
		if o == Assigned {
			p.AddedAssignees = added(ev.Changes, schematype.ChangeAssignees)
			p.AddedApprovers = added(ev.Changes, schematype.ChangeApprovers)
		}
		if Audience[o]&EscalationContacts != 0 {
			if p.Escalation, err = EscalationOf(ctx, tx, assignees); err != nil {
				return err
			}
		}
		recipients, err := s.audience(ctx, tx, Recipients(o, p, ev.ActorID), t.SiteID)
		if err != nil {
			return err
		}
		chans, err := tx.Channel.Query().Where(channel.Enabled(true), channel.Notifications(true)).Order(channel.ByID()).All(ctx)
		if err != nil || len(chans) == 0 {
			return err
		}
		sum := s.summary(t, string(ev.Kind), o)
		if then != nil { // as the change left it
			sum.Title, sum.Status, sum.Priority, sum.Site = then.Title, then.Status, then.Priority, then.Site
		}
		if ev.Edges.Actor != nil {
			sum.Actor = ev.Edges.Actor.DisplayName
		}
		if ev.Reason != nil {
			sum.Reason = *ev.Reason
		}
		msg := Compose(sum)
		now := s.now()
		var creates []*ent.DeliveryCreate
		for _, c := range chans {
			base := func() *ent.DeliveryCreate {
				return tx.Delivery.Create().SetKind(delivery.KindNOTIFICATION).SetChannelID(c.ID).SetChannelType(c.Type).
					SetTicketID(t.ID).SetTicketNumber(t.Number()).SetSiteID(t.SiteID).SetEventID(ev.ID).
					SetSubject(msg.Subject).SetText(msg.Text).SetHTML(msg.HTML).SetLink(sum.Link)
			}
			if c.Type == schematype.ChannelWebhook { // a system endpoint: once per change
				logins := make([]string, len(recipients))
				for i, u := range recipients {
					logins[i] = u.Login
				}
				creates = append(creates, base().SetPayload(map[string]any{"ticket": sum, "recipients": logins}))
				continue
			}
			for _, u := range recipients {
				mode := ModeOf(u, c.ID)
				if mode == schematype.ModeMuted || !Addressable(c.Type, u) {
					continue
				}
				d := base().SetRecipientID(u.ID).SetPayload(map[string]any{"ticket": sum})
				if due, held := DigestDue(mode, now); held {
					d.SetStatus(delivery.StatusHELD).SetDueAt(due)
				}
				creates = append(creates, d)
			}
		}
		if len(creates) == 0 {
			return nil
		}
		ds, err := tx.Delivery.CreateBulk(creates...).Save(ctx)
		if err != nil {
			return err
		}
		return s.enqueue(ctx, ds)
	})
}

// audience reads the users of ids who may still see tickets of siteID
// (a watcher who lost the site hears nothing of it).
func (s *Service) audience(ctx context.Context, tx *ent.Tx, ids []int, siteID int) ([]*ent.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	us, err := tx.User.Query().Where(user.IDIn(ids...)).WithSites(func(q *ent.SiteQuery) { q.Select(site.FieldID) }).
		Order(user.ByID()).All(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(us, func(u *ent.User) bool { return !authz.ScopeOf(authz.AsViewer(u)).SeesTicket(siteID) }), nil
}

// summary is what messages say of t.
func (s *Service) summary(t *ent.Ticket, event string, o Occasion) Summary {
	sum := Summary{Number: t.Number(), Title: t.Title, Status: string(t.Status), Priority: string(t.Priority),
		Link: s.TicketLink(t.Number()), Event: event, Occasion: string(o)}
	if t.Edges.Site != nil {
		sum.Site = t.Edges.Site.Name
	}
	return sum
}

// enqueue inserts, in ctx's transaction, a delivery job for each pending
// delivery of ds and a digest job for each digest window ds holds for.
func (s *Service) enqueue(ctx context.Context, ds []*ent.Delivery) error {
	var params []river.InsertManyParams
	digests := map[DigestArgs]bool{}
	for _, d := range ds {
		switch d.Status {
		case delivery.StatusPENDING:
			params = append(params, river.InsertManyParams{Args: DeliverArgs{DeliveryID: d.ID}})
		case delivery.StatusHELD:
			a := DigestArgs{RecipientID: *d.RecipientID, ChannelID: d.ChannelID, Due: d.DueAt.UTC()}
			if !digests[a] {
				digests[a] = true
				opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: digestUniqueStates}, Priority: LaterPriority}
				// A window already over goes now: a job given a ScheduledAt
				// waits for River's scheduler (every 5 s) even when it is past.
				if a.Due.After(time.Now()) {
					opts.ScheduledAt = a.Due
				}
				params = append(params, river.InsertManyParams{Args: a, InsertOpts: opts})
			}
		}
	}
	if len(params) == 0 {
		return nil
	}
	return s.Jobs.InsertMany(ctx, params)
}

// digestUniqueStates are the states in which a digest job stands for its
// window. Not completed: a notification held after its window's digest
// went (a fan-out committed just after the window's end, a replica's clock
// behind) needs another digest, or it stays HELD for ever.
var digestUniqueStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}

// ModeOf is how u hears through channel id.
func ModeOf(u *ent.User, id int) schematype.NotificationMode {
	for _, p := range u.NotificationPreferences {
		if p.ChannelID == id {
			return p.Mode
		}
	}
	return schematype.ModeImmediate
}

// Addressable reports whether u can be reached through a channel of type t:
// an email address, a phone number, a messenger handle.
func Addressable(t schematype.ChannelType, u *ent.User) bool {
	switch t {
	case schematype.ChannelEmail:
		return u.Email != ""
	case schematype.ChannelSMS:
		return u.Phone != ""
	case schematype.ChannelMessenger:
		return u.Messenger != ""
	}
	return false
}

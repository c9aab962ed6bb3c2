package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"socdesk/ent"
	"socdesk/ent/delivery"
	"socdesk/ent/schematype"
	"socdesk/ent/site"
	"socdesk/ent/ticket"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/txn"
)

// MaxDigestItems bounds the notifications one digest lists; more wait for
// the next one.
const MaxDigestItems = 200

// DigestDue is when a notification held for a digest in mode goes (the
// end of the hour, or of the day, in UTC), and whether mode holds at all.
func DigestDue(mode schematype.NotificationMode, now time.Time) (time.Time, bool) {
	now = now.UTC()
	switch mode {
	case schematype.ModeHourly:
		return now.Truncate(time.Hour).Add(time.Hour), true
	case schematype.ModeDaily:
		y, m, d := now.Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC), true
	}
	return time.Time{}, false
}

// DigestArgs is the job that sends a recipient's notifications held on a
// channel until Due as one message. One job per window (unique by args).
type DigestArgs struct {
	RecipientID int       `json:"recipient_id"`
	ChannelID   int       `json:"channel_id"`
	Due         time.Time `json:"due"`
}

// Kind implements river.JobArgs.
func (DigestArgs) Kind() string { return "notify.digest" }

type digestWorker struct {
	river.WorkerDefaults[DigestArgs]
	s *Service
}

func (w *digestWorker) Work(ctx context.Context, job *river.Job[DigestArgs]) error {
	return w.s.digest(authz.System(ctx), job.Args)
}

// SweepArgs is the periodic job that sends the digests whose window has
// passed but whose own job missed them: a notification held by a change
// that committed while its window's digest was being sent.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "notify.digest_sweep" }

// SweepEvery is how often the sweep runs.
const SweepEvery = 5 * time.Minute

// maxSweep bounds the digests one sweep sends.
const maxSweep = 1000

type sweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	s *Service
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	ctx = authz.System(ctx)
	var due []struct {
		RecipientID int `json:"recipient_id"`
		ChannelID   int `json:"channel_id"`
	}
	now := w.s.now()
	err := w.s.Client.Delivery.Query().
		Where(delivery.StatusEQ(delivery.StatusHELD), delivery.DueAtLTE(now), delivery.RecipientIDNotNil()).
		Limit(maxSweep).GroupBy(delivery.FieldRecipientID, delivery.FieldChannelID).Scan(ctx, &due)
	if err != nil {
		return err
	}
	for _, d := range due {
		if err := w.s.digest(ctx, DigestArgs{RecipientID: d.RecipientID, ChannelID: d.ChannelID, Due: now}); err != nil {
			return err
		}
	}
	return nil
}

// digest gathers the held notifications into one DIGEST delivery, in one
// transaction, so that a redelivered job finds nothing left to gather.
func (s *Service) digest(ctx context.Context, a DigestArgs) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		held, err := tx.Delivery.Query().
			Where(delivery.RecipientID(a.RecipientID), delivery.ChannelID(a.ChannelID), delivery.StatusEQ(delivery.StatusHELD),
				delivery.DueAtLTE(a.Due)).
			Order(delivery.ByID()).Limit(MaxDigestItems).All(ctx)
		if err != nil || len(held) == 0 {
			return err
		}
		// Claim them first: a digest job and the sweep gathering the same
		// window at once must not both send it. The loser finds fewer rows
		// HELD than it read and rolls back (its job tries again, finding
		// none).
		ids := make([]int, len(held))
		for i, d := range held {
			ids[i] = d.ID
		}
		n, err := tx.Delivery.Update().Where(delivery.IDIn(ids...), delivery.StatusEQ(delivery.StatusHELD)).
			SetStatus(delivery.StatusDIGESTED).Save(ctx)
		if err != nil {
			return err
		}
		if n != len(held) {
			return fmt.Errorf("notify: %d of %d held notifications were gathered meanwhile by another digest", len(held)-n, len(held))
		}
		// Only what the recipient may still see: they may have lost a
		// ticket's site since it was held.
		keep, lost, err := s.stillSeen(ctx, tx, a.RecipientID, held)
		if err != nil {
			return err
		}
		if len(lost) > 0 {
			if err := tx.Delivery.Update().Where(delivery.IDIn(lost...)).SetStatus(delivery.StatusFAILED).
				SetLastError("the recipient can no longer see the ticket").Exec(ctx); err != nil {
				return err
			}
		}
		if len(held) == MaxDigestItems { // more are waiting: another digest right after
			if _, err := s.Jobs.Insert(ctx, a, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Second)}); err != nil {
				return err
			}
		}
		if len(keep) == 0 {
			return nil
		}
		items := make([]DigestItem, len(keep))
		for i, d := range keep {
			items[i] = DigestItem{Subject: d.Subject, Link: d.Link}
		}
		msg := ComposeDigest(items, keep[0].CreatedAt)
		dg, err := tx.Delivery.Create().SetKind(delivery.KindDIGEST).SetChannelID(a.ChannelID).SetChannelType(keep[0].ChannelType).
			SetRecipientID(a.RecipientID).SetSubject(msg.Subject).SetText(msg.Text).SetHTML(msg.HTML).
			SetLink(s.PublicURL).SetPayload(map[string]any{"count": len(items)}).Save(ctx)
		if err != nil {
			return err
		}
		keepIDs := make([]int, len(keep))
		for i, d := range keep {
			keepIDs[i] = d.ID
		}
		if err := tx.Delivery.Update().Where(delivery.IDIn(keepIDs...)).SetDigestID(dg.ID).Exec(ctx); err != nil {
			return err
		}
		return s.enqueue(ctx, []*ent.Delivery{dg})
	})
}

// stillSeen splits held notifications into those whose ticket the
// recipient still sees (where it is now, or where it was if deleted) and
// the ids of the others.
func (s *Service) stillSeen(ctx context.Context, tx *ent.Tx, recipientID int, held []*ent.Delivery) (keep []*ent.Delivery, lost []int, err error) {
	u, err := tx.User.Query().Where(user.ID(recipientID)).WithSites(func(q *ent.SiteQuery) { q.Select(site.FieldID) }).Only(ctx)
	if err != nil {
		return nil, nil, err
	}
	var tids []int
	for _, d := range held {
		if d.TicketID != nil {
			tids = append(tids, *d.TicketID)
		}
	}
	now := map[int]int{}
	ts, err := tx.Ticket.Query().Where(ticket.IDIn(tids...)).Select(ticket.FieldID, ticket.FieldSiteID).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range ts {
		now[t.ID] = t.SiteID
	}
	scope := authz.ScopeOf(authz.AsViewer(u))
	for _, d := range held {
		siteID, ok := 0, false
		if d.TicketID != nil {
			siteID, ok = now[*d.TicketID]
		}
		if !ok && d.SiteID != nil {
			siteID, ok = *d.SiteID, true
		}
		if !ok || scope.SeesTicket(siteID) {
			keep = append(keep, d)
		} else {
			lost = append(lost, d.ID)
		}
	}
	return keep, lost, nil
}

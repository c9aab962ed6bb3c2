package notify

import (
	"context"
	"slices"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/ent/channel"
	"socdesk/ent/delivery"
	"socdesk/ent/schematype"
	"socdesk/ent/site"
	"socdesk/ent/ticketevent"
	"socdesk/ent/user"
	"socdesk/internal/errs"
	"socdesk/internal/runes"
	"socdesk/internal/viewer"
)

// MaxPropagationRecipients bounds the recipients of one propagation.
const MaxPropagationRecipients = 50

// Propagate sends ticket id's summary now to each recipient over each
// channel type (Sonar's propagation): one PENDING delivery per recipient and
// type, each a job, recorded in the ticket's history (PROPAGATED); each
// outcome arrives later as a DELIVERY_UPDATED entry. Editors of the
// ticket's site propagate (the deliveries' policy); every recipient must be
// able to see the ticket.
func (s *Service) Propagate(ctx context.Context, id int, recipientIDs []int, types []schematype.ChannelType) ([]*ent.Delivery, error) {
	switch {
	case len(recipientIDs) == 0:
		return nil, errs.Invalid("recipientIDs", "give at least one recipient")
	case len(recipientIDs) > MaxPropagationRecipients:
		return nil, errs.Invalid("recipientIDs", "at most %d recipients, not %d", MaxPropagationRecipients, len(recipientIDs))
	case len(types) == 0:
		return nil, errs.Invalid("channels", "give at least one channel type")
	}
	recipientIDs = sortedUnique(recipientIDs)
	types = slices.Clone(types)
	slices.Sort(types)
	types = slices.Compact(types)
	var chans []*ent.Channel
	for _, t := range types {
		if t == schematype.ChannelWebhook {
			return nil, errs.Invalid("channels", "WEBHOOK channels are not addressed to people: propagate by EMAIL, SMS or MESSENGER")
		}
		c, err := s.Client.Channel.Query().Where(channel.TypeEQ(t), channel.Enabled(true)).Order(channel.ByID()).First(ctx)
		if ent.IsNotFound(err) {
			return nil, errs.Invalid("channels", "no %s channel is configured and enabled", t)
		} else if err != nil {
			return nil, err
		}
		chans = append(chans, c)
	}
	var out []*ent.Delivery
	err := s.Tickets.Annotate(ctx, "id", id, func(ctx context.Context, tx *ent.Tx, t *ent.Ticket) (ticketevent.Kind, []schematype.FieldChange, error) {
		if err := s.Tickets.CheckUsers(ctx, "recipientIDs", recipientIDs); err != nil {
			return "", nil, err
		}
		if err := s.Tickets.CheckCanSee(ctx, "recipientIDs", recipientIDs, t.SiteID); err != nil {
			return "", nil, err
		}
		st, err := tx.Site.Query().Where(site.ID(t.SiteID)).Only(ctx)
		if err != nil {
			return "", nil, err
		}
		t.Edges.Site = st
		sum := s.summary(t, "PROPAGATED", "")
		if v := viewer.FromContext(ctx); v != nil {
			if u, err := tx.User.Query().Where(user.ID(v.UserID)).Only(ctx); err == nil {
				sum.Actor = u.DisplayName
			}
		}
		sum.Excerpt = excerpt(t.Body)
		msg := Compose(sum)
		var creates []*ent.DeliveryCreate
		for _, rid := range recipientIDs {
			for _, c := range chans {
				d := tx.Delivery.Create().SetKind(delivery.KindPROPAGATION).SetChannelID(c.ID).SetChannelType(c.Type).
					SetRecipientID(rid).SetTicketID(t.ID).SetTicketNumber(t.Number()).SetSiteID(t.SiteID).
					SetSubject(msg.Subject).SetText(msg.Text).SetHTML(msg.HTML).SetLink(sum.Link).
					SetPayload(map[string]any{"ticket": sum})
				if v := viewer.FromContext(ctx); v != nil {
					d.SetRequestedByID(v.UserID)
				}
				creates = append(creates, d)
			}
		}
		if out, err = tx.Delivery.CreateBulk(creates...).Save(ctx); err != nil {
			return "", nil, err
		}
		if err := s.enqueue(ctx, out); err != nil {
			return "", nil, err
		}
		changes := make([]schematype.FieldChange, len(out))
		for i, d := range out {
			changes[i] = schematype.FieldChange{Field: schematype.ChangeDelivery,
				To: map[string]any{"id": d.ID, "recipient": *d.RecipientID, "channel": d.ChannelType, "status": d.Status}}
		}
		return ticketevent.KindPROPAGATED, changes, nil
	})
	if err != nil {
		return nil, err
	}
	for i, d := range out { // made in the committed tx: unbind them so their edges resolve
		out[i] = d.Unwrap()
	}
	return out, nil
}

// excerpt is the start of a ticket's body that a propagation quotes.
func excerpt(body string) string {
	if utf8.RuneCountInString(body) <= maxExcerptRunes {
		return body
	}
	return runes.Cut(body, maxExcerptRunes)
}

func sortedUnique(ids []int) []int {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

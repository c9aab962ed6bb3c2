package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"socdesk/ent"
	"socdesk/ent/delivery"
	"socdesk/ent/schematype"
	"socdesk/ent/site"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/authz"
	"socdesk/internal/channels"
	"socdesk/internal/jobs"
	"socdesk/internal/runes"
	"socdesk/internal/txn"
)

// DeliverArgs is the job that sends one delivery.
type DeliverArgs struct {
	DeliveryID int `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "notify.deliver" }

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	s *Service
}

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	return w.s.deliver(authz.System(ctx), job.Args.DeliveryID, job.Attempt, job.MaxAttempts)
}

func (s *Service) registerWorkers() {
	river.AddWorker(s.Jobs.Workers(), &fanoutWorker{s: s})
	river.AddWorker(s.Jobs.Workers(), &deliverWorker{s: s})
	river.AddWorker(s.Jobs.Workers(), &digestWorker{s: s})
	jobs.Every(s.Jobs, SweepEvery, river.Worker[SweepArgs](&sweepWorker{s: s}))
	jobs.Every(s.Jobs, OrphansEvery, river.Worker[OrphansArgs](&orphansWorker{s: s}))
}

// recordTimeout bounds the recording of an attempt's outcome.
const recordTimeout = 15 * time.Second

// stillSees reports whether d's recipient may still see its ticket (they
// may have lost its site since the delivery was made, or it moved): the
// site rule holds when sending too. Digests and webhooks have no one ticket
// or no recipient.
func (s *Service) stillSees(ctx context.Context, d *ent.Delivery) bool {
	u := d.Edges.Recipient
	if u == nil || d.SiteID == nil {
		return true
	}
	siteID := *d.SiteID
	if d.TicketID != nil {
		t, err := s.Client.Ticket.Query().Where(ticket.ID(*d.TicketID)).Select(ticket.FieldSiteID).Only(ctx)
		if err == nil {
			siteID = t.SiteID
		}
	}
	return authz.ScopeOf(authz.AsViewer(u)).SeesTicket(siteID)
}

// maxErrorRunes bounds the reason a delivery keeps.
const maxErrorRunes = 1000

// deliver sends delivery id; attempt counts from 1 to max. It returns nil
// once the delivery is sent (or was already), an error River retries with
// backoff, or a cancellation when retrying cannot help. Sending happens
// outside any transaction; the outcome is recorded after it.
func (s *Service) deliver(ctx context.Context, id, attempt, max int) error {
	d, err := s.Client.Delivery.Query().Where(delivery.ID(id)).WithChannel().
		WithRecipient(func(q *ent.UserQuery) { q.WithSites(func(q *ent.SiteQuery) { q.Select(site.FieldID) }) }).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if d.Status != delivery.StatusPENDING { // sent, or gathered into a digest, already
		return nil
	}
	c := d.Edges.Channel
	var sendErr error
	switch {
	case !c.Enabled:
		sendErr = permanent("the channel %s is disabled", c.Name)
	case d.RecipientID != nil && d.Edges.Recipient == nil:
		sendErr = permanent("the recipient was deleted")
	case !s.stillSees(ctx, d):
		sendErr = permanent("the recipient can no longer see the ticket")
	default:
		var to channels.Recipient
		if u := d.Edges.Recipient; u != nil {
			to = channels.Recipient{UserID: u.ID, Name: u.DisplayName, Login: u.Login, Email: u.Email, Phone: u.Phone, Messenger: u.Messenger}
		}
		event := "ticket.notification"
		text, html := d.Text, d.HTML
		switch d.Kind {
		case delivery.KindPROPAGATION:
			event = "ticket.propagated"
		case delivery.KindDIGEST:
			event = "digest"
		case delivery.KindEXPLANATION:
			event = "explanation"
			if d.Address != nil {
				to.Email = *d.Address
			}
			text, html, sendErr = s.withLink(ctx, d, to)
		}
		if sendErr == nil {
			sendErr = s.Sender.Send(ctx, c.Type, c.Settings, c.Secret, to, channels.Message{
				IdempotencyKey: IdempotencyKey(d.ID), Event: event,
				Subject: d.Subject, Text: text, HTML: html, Link: d.Link, Data: d.Payload,
			})
		}
	}
	status := delivery.StatusSENT
	switch {
	case sendErr == nil:
	case channels.Permanent(sendErr) || attempt >= max:
		status = delivery.StatusFAILED
	default:
		status = delivery.StatusPENDING
	}
	// The outcome is kept even when the job's own time is up (a send that
	// took it all): else the delivery would stay PENDING with its job gone.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := s.record(rctx, d, status, d.Attempts+1, sendErr); errors.Is(err, errSettled) {
		return nil
	} else if err != nil { // attempts count on across a retry
		return err // River retries; the receiver dedups by the key
	}
	switch {
	case sendErr == nil:
		return nil
	case status == delivery.StatusFAILED && attempt < max:
		return river.JobCancel(sendErr) // permanent: no retry
	}
	return sendErr // retried with backoff; the last attempt's error discards the job
}

// errSettled: the delivery was no longer PENDING when its outcome was to
// be recorded (another settled it first); nothing is recorded.
var errSettled = errors.New("notify: the delivery was settled meanwhile")

// record keeps a delivery's attempt (errSettled when it is no longer
// PENDING); a propagation's final outcome is also
// appended to its ticket's history, where dashboards see it arrive.
func (s *Service) record(ctx context.Context, d *ent.Delivery, status delivery.Status, attempts int, sendErr error) error {
	now := time.Now().UTC()
	update := func(ctx context.Context, tx *ent.Tx) error {
		// Only from PENDING: the orphan sweep must not undo a send that
		// settled the delivery while it looked at the jobs.
		u := tx.Delivery.UpdateOneID(d.ID).Where(delivery.StatusEQ(delivery.StatusPENDING)).
			SetStatus(status).SetAttempts(attempts).SetLastAttemptAt(now)
		if sendErr != nil {
			u.SetLastError(runes.Cut(sendErr.Error(), maxErrorRunes))
		} else {
			u.SetSentAt(now).ClearLastError() // a sent delivery shows no error of an earlier attempt
		}
		if err := u.Exec(ctx); ent.IsNotFound(err) {
			return errSettled
		} else if err != nil {
			return err
		}
		return nil
	}
	if d.Kind != delivery.KindPROPAGATION || status == delivery.StatusPENDING {
		return txn.Run(ctx, s.Client, update)
	}
	to := map[string]any{"id": d.ID, "recipient": d.RecipientID, "channel": d.ChannelType, "status": status}
	if sendErr != nil {
		to["error"] = runes.Cut(sendErr.Error(), maxErrorRunes)
	}
	return s.Tickets.Progress(ctx, d.TicketID, update, ticketevent.KindDELIVERY_UPDATED,
		schematype.FieldChange{Field: schematype.ChangeDelivery, From: map[string]any{"id": d.ID, "status": d.Status}, To: to})
}

// LinkPlaceholder stands in an explanation message's stored text for the
// personal link, minted only when the message is sent (see Service.Links):
// the token is stored nowhere, not even in the delivery.
const LinkPlaceholder = "{{personal-link}}"

// withLink is an explanation message's text and HTML with a fresh personal
// link in place of LinkPlaceholder, when it carries one. Without an address
// nothing is minted: the send fails as it does for anyone without one.
func (s *Service) withLink(ctx context.Context, d *ent.Delivery, to channels.Recipient) (string, string, error) {
	if d.LinkRole == nil || d.EmployeeID == nil || d.ExplanationID == nil || to.Email == "" {
		return d.Text, d.HTML, nil
	}
	if s.Links == nil {
		return "", "", permanent("personal links are not served here")
	}
	url, err := s.Links(ctx, *d.ExplanationID, *d.EmployeeID, string(*d.LinkRole))
	if err != nil {
		return "", "", permanent("no personal link: %v", err)
	}
	return strings.ReplaceAll(d.Text, LinkPlaceholder, url), strings.ReplaceAll(d.HTML, LinkPlaceholder, url), nil
}

// permanent is a failure retrying cannot mend.
func permanent(format string, args ...any) error {
	return channels.PermanentError(fmt.Errorf(format, args...))
}

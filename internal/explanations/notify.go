package explanations

import (
	"context"
	"fmt"
	"strings"

	"github.com/riverqueue/river"

	"socdesk/ent"
	"socdesk/ent/channel"
	"socdesk/ent/delivery"
	"socdesk/ent/employee"
	"socdesk/ent/explanationlink"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
	"socdesk/internal/notify"
	"socdesk/internal/runes"
)

// recipient is one person a step's message goes to; role is set when the
// message carries their personal link.
type recipient struct {
	employeeID int
	role       *explanationlink.Role
}

// audience is who hears of a step, and who gets a link: the person whose
// turn it is now gets theirs; when the request ends, everyone on it is told,
// without one.
func audience(r *ent.ExplanationRequest, action Action) []recipient {
	with := func(id int, role explanationlink.Role) []recipient { return []recipient{{employeeID: id, role: &role}} }
	switch {
	case IsEnded(r.Status):
		out := []recipient{{employeeID: r.ViolatorID}, {employeeID: r.ManagerID}}
		if r.AuditorID != nil {
			out = append(out, recipient{employeeID: *r.AuditorID})
		}
		return out
	case action == Request || action == Return || action == AuditReturn || action == Remind:
		return with(r.ViolatorID, explanationlink.RoleVIOLATOR)
	case action == Submit:
		return with(r.ManagerID, explanationlink.RoleMANAGER)
	case action == Accept && r.AuditorID != nil:
		return with(*r.AuditorID, explanationlink.RoleAUDITOR)
	}
	return nil
}

// tell enqueues, in the step's transaction, the messages of action on r to
// the people concerned: a Delivery over the first enabled EMAIL channel
// for each, with its delivery job (package notify sends it, minting the
// personal link then). Without an EMAIL channel there is no one to send
// through: nothing is enqueued.
func (s *Service) tell(ctx context.Context, tx *ent.Tx, r *ent.ExplanationRequest, action Action) error {
	rcpts := audience(r, action)
	if len(rcpts) == 0 || s.Jobs == nil {
		return nil
	}
	ctx = authz.System(ctx) // socdesk's own messages, to people without accounts
	ch, err := tx.Channel.Query().Where(channel.TypeEQ(schematype.ChannelEmail), channel.Enabled(true)).
		Order(ent.Asc(channel.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	t, err := tx.Ticket.Query().Where(ticket.ID(r.TicketID)).Only(ctx)
	if err != nil {
		return err
	}
	ids := make([]int, len(rcpts))
	for i, rc := range rcpts {
		ids[i] = rc.employeeID
	}
	people, err := tx.Employee.Query().Where(employee.IDIn(ids...)).All(ctx)
	if err != nil {
		return err
	}
	byID := map[int]*ent.Employee{}
	for _, p := range people {
		byID[p.ID] = p
	}
	var params []river.InsertManyParams
	for _, rc := range rcpts {
		p := byID[rc.employeeID]
		if p == nil {
			continue
		}
		subject, text := s.message(r, t, action, p, rc.role != nil)
		c := tx.Delivery.Create().SetKind(delivery.KindEXPLANATION).SetChannelID(ch.ID).SetChannelType(ch.Type).
			SetTicketID(t.ID).SetTicketNumber(t.Number()).SetSiteID(t.SiteID).
			SetEmployeeID(p.ID).SetExplanationID(r.ID).
			SetSubject(runes.Cut(subject, 500)).SetText(text)
		if p.Email != "" {
			c.SetAddress(p.Email)
		}
		if rc.role != nil {
			c.SetLinkRole(delivery.LinkRole(*rc.role))
		}
		d, err := c.Save(ctx)
		if err != nil {
			return err
		}
		params = append(params, river.InsertManyParams{Args: notify.DeliverArgs{DeliveryID: d.ID}})
	}
	if len(params) == 0 {
		return nil
	}
	return s.Jobs.InsertMany(ctx, params)
}

// message is the subject and text of action's message to p; with a link,
// the text carries notify.LinkPlaceholder where the link goes.
func (s *Service) message(r *ent.ExplanationRequest, t *ent.Ticket, action Action, p *ent.Employee, link bool) (string, string) {
	var b strings.Builder
	fmt.Fprintf(&b, "Dear %s,\n\n", p.Name)
	subject := fmt.Sprintf("Explanation request #%d on ticket #%d", r.ID, t.Number())
	switch {
	case r.Withdrawn:
		subject += ": withdrawn"
		fmt.Fprintf(&b, "the explanation request #%d has been withdrawn. No further action is needed.\n", r.ID)
	case IsEnded(r.Status):
		subject += ": " + strings.ToLower(strings.ReplaceAll(string(r.Status), "_", " "))
		fmt.Fprintf(&b, "the explanation request #%d is complete (%s). No further action is needed.\n", r.ID, r.Status)
	case action == Request:
		fmt.Fprintf(&b, "you are asked to explain what ticket #%d (%q) reports, by %s.\n\n%s\n", t.Number(), t.Title, r.Deadline.Format("2006-01-02 15:04 MST"), r.Message)
	case action == Remind:
		subject = "Reminder: " + subject
		fmt.Fprintf(&b, "your explanation for ticket #%d is due by %s.\n", t.Number(), r.Deadline.Format("2006-01-02 15:04 MST"))
	case action == Return || action == AuditReturn:
		subject += ": returned"
		fmt.Fprintf(&b, "your explanation for ticket #%d was returned: please answer again by %s.\n", t.Number(), r.Deadline.Format("2006-01-02 15:04 MST"))
	case action == Submit:
		subject += ": answered"
		fmt.Fprintf(&b, "the explanation for ticket #%d has been submitted for your review.\n", t.Number())
	case action == Accept:
		subject += ": awaiting your audit"
		fmt.Fprintf(&b, "the explanation for ticket #%d was accepted by the manager and awaits your audit.\n", t.Number())
	}
	if link {
		fmt.Fprintf(&b, "\nOpen your personal link (do not forward it):\n%s\n", notify.LinkPlaceholder)
	}
	return subject, b.String()
}

package explanations

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"

	"socdesk/ent"
	"socdesk/ent/attachment"
	"socdesk/ent/explanationlink"
	"socdesk/ent/explanationrequest"
	"socdesk/ent/explanationstep"
	"socdesk/graph/scalar"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/explanations/link"
)

// TokenPrefix starts every personal link token.
const TokenPrefix = link.Prefix

// tokenBytes is a token's randomness: 256 bits.
const tokenBytes = 32

// NewToken returns a fresh random token and the hash that is stored of it.
func NewToken() (raw, hash string) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	raw = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return raw, link.Hash(raw)
}

// errLink is the one answer to a token that opens nothing: unknown, or its
// request ended. It does not tell which.
var errLink = errs.New(errs.NotFound, "this link is not valid (any more)")

// ErrNoLink is the error of a link operation made without a link token.
var ErrNoLink = errs.New(errs.Unauthenticated, "a personal link token is required")

// holder is an open link: its token, its row, with its request.
type holder struct {
	raw  string
	link *ent.ExplanationLink
	req  *ent.ExplanationRequest
}

// open finds the link of raw while its request has not ended.
func (s *Service) open(ctx context.Context, raw string) (*holder, error) {
	if raw == "" {
		return nil, ErrNoLink
	}
	if !link.IsToken(raw) {
		return nil, errLink
	}
	l, err := s.Client.ExplanationLink.Query().Where(explanationlink.TokenHash(link.Hash(raw))).
		WithRequest().Only(authz.System(ctx))
	if ent.IsNotFound(err) {
		return nil, errLink
	} else if err != nil {
		return nil, err
	}
	r := l.Edges.Request
	if IsEnded(r.Status) || !holds(r, Actor{Role: Role(l.Role), EmployeeID: l.EmployeeID}) {
		return nil, errLink
	}
	return &holder{raw: raw, link: l, req: r}, nil
}

// MintLink makes a fresh personal link for employeeID in role on request
// requestID and returns its URL; only the token's hash is stored. It is
// asked for when a message carrying the link is sent, so that the token
// exists nowhere but in that message. A request that has ended gets none.
func (s *Service) MintLink(ctx context.Context, requestID, employeeID int, role explanationlink.Role) (string, error) {
	ctx = authz.System(ctx)
	r, err := s.Client.ExplanationRequest.Query().Where(explanationrequest.ID(requestID)).Only(ctx)
	if err != nil {
		return "", err
	}
	if IsEnded(r.Status) {
		return "", errs.New(errs.InvalidTransition, "the explanation request has ended")
	}
	if !holds(r, Actor{Role: Role(role), EmployeeID: employeeID}) {
		return "", errs.New(errs.Forbidden, "the employee is no longer the request's %s", roleNoun(Role(role)))
	}
	raw, hash := NewToken()
	if err := s.Client.ExplanationLink.Create().SetRequestID(requestID).SetEmployeeID(employeeID).
		SetRole(role).SetTokenHash(hash).SetCreatedAt(s.NowUTC()).Exec(ctx); err != nil {
		return "", err
	}
	return s.PageURL(raw), nil
}

// PageURL is the personal page of token raw.
func (s *Service) PageURL(raw string) string {
	return strings.TrimRight(s.PublicURL, "/") + "/explain/" + raw
}

// Opens returns nil if token raw opens a request (as View would), else
// View's error; it reads the link alone.
func (s *Service) Opens(ctx context.Context, raw string) error {
	_, err := s.open(ctx, raw)
	return err
}

// View is the request token raw opens, as its holder sees it.
func (s *Service) View(ctx context.Context, raw string) (*View, error) {
	h, err := s.open(ctx, raw)
	if err != nil {
		return nil, err
	}
	return s.view(ctx, h)
}

// ActByLink takes action on the request token raw opens, as its holder:
// the violator SUBMITs, the manager RETURNs or ACCEPTs, the auditor
// AUDIT_RETURNs or AUDIT_COMPLETEs (the table decides). It answers the
// request as the holder sees it afterwards (once it has ended, the link
// opens it no more: the view is of the step's result).
// An answer carries files, attached to its step with the violator as
// their uploader.
func (s *Service) ActByLink(ctx context.Context, raw string, action Action, comment string, files []File, expectedVersion *int) (*View, error) {
	h, err := s.open(ctx, raw)
	if err != nil {
		return nil, err
	}
	actor := Actor{Role: Role(h.link.Role), EmployeeID: h.link.EmployeeID}
	r, err := s.Act(authz.System(ctx), h.req.ID, action, actor, comment, files, expectedVersion)
	if err != nil {
		return nil, err
	}
	if err := s.Client.ExplanationLink.UpdateOne(h.link).SetUsedAt(s.NowUTC()).Exec(authz.System(ctx)); err != nil {
		return nil, err
	}
	h.req = r
	return s.view(ctx, h)
}

// view builds what the holder of h sees.
func (s *Service) view(ctx context.Context, h *holder) (*View, error) {
	ctx = authz.System(ctx) // the holder's view: the request alone, built here
	r, err := s.Client.ExplanationRequest.Query().Where(explanationrequest.ID(h.req.ID)).
		WithTicket().WithViolator().WithManager().WithAuditor().WithCategory().
		WithSteps(func(q *ent.ExplanationStepQuery) {
			q.Order(ent.Asc(explanationstep.FieldID)).WithActor().WithActorEmployee().
				WithAttachments(func(q *ent.AttachmentQuery) { q.Order(ent.Asc(attachment.FieldID)) })
		}).Only(ctx)
	if err != nil {
		return nil, err
	}
	role := Role(h.link.Role)
	v := &View{
		RequestID: r.ID, Role: h.link.Role, TicketNumber: r.Edges.Ticket.Number(), TicketTitle: r.Edges.Ticket.Title,
		Priority: r.Priority, Category: r.Edges.Category.Name, Message: r.Message, Deadline: r.Deadline,
		Status: r.Status, Overdue: s.IsOverdue(r), Version: r.Version,
		ViolatorName: r.Edges.Violator.Name, ManagerName: r.Edges.Manager.Name,
		Evidence: make([]any, len(r.Evidence)), Actions: Available(r.Status, role),
	}
	if a := r.Edges.Auditor; a != nil {
		v.AuditorName = &a.Name
	}
	for i, rec := range r.Evidence {
		v.Evidence[i] = rec
	}
	for _, st := range r.Edges.Steps {
		vs := ViewStep{Action: st.Action, Role: st.Role, FromStatus: st.FromStatus, ToStatus: st.ToStatus, Comment: st.Comment, CreatedAt: st.CreatedAt}
		switch {
		case st.Edges.ActorEmployee != nil:
			vs.By = &st.Edges.ActorEmployee.Name
		case st.Edges.Actor != nil:
			vs.By = &st.Edges.Actor.DisplayName
		}
		for _, a := range st.Edges.Attachments {
			vs.Attachments = append(vs.Attachments, ViewAttachment{ID: a.ID, Filename: a.Filename, ContentType: a.ContentType,
				Size: a.Size, SHA256: a.Sha256, URL: s.PageURL(h.raw) + AttachmentPath(a.ID)})
		}
		v.Steps = append(v.Steps, vs)
	}
	return v, nil
}

// AttachmentPath is where, under a personal page, attachment id of its
// request's answers downloads.
func AttachmentPath(id int) string { return "/attachments/" + scalar.EncodeID(id) }

// LinkAttachment is attachment id if it belongs to a step of the request
// token raw opens (an answer's file), for its holder to download; any
// other is the same not-found error as a link that opens nothing.
func (s *Service) LinkAttachment(ctx context.Context, raw string, id int) (*ent.Attachment, error) {
	h, err := s.open(ctx, raw)
	if err != nil {
		return nil, err
	}
	a, err := s.Client.Attachment.Query().Where(attachment.ID(id),
		attachment.HasExplanationStepWith(explanationstep.RequestID(h.req.ID))).Only(authz.System(ctx))
	if ent.IsNotFound(err) {
		return nil, errLink
	}
	return a, err
}

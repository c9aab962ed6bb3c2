// Package policies keeps the compliance policy statements ("FFIEC IS.B.33",
// "PCI DSS 10.6.1") that tickets, tasks and task schedules cite for
// tracking and reporting, and says what cites each one.
//
// Admins create, change and delete them (authz.AdminOnly denies the others
// at the data layer; this package asks that policy before it looks at the
// input, so that a refused viewer learns nothing of it); every viewer reads
// them. A policy something cites is part of the compliance record and is
// not deleted: the error names what cites it. What cites a policy is read
// under the viewer, so that the site rule (the ticket and schedule
// privacy) keeps it to what the viewer may see.
package policies

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/compliancepolicy"
	"socdesk/ent/predicate"
	"socdesk/ent/taskschedule"
	"socdesk/ent/ticket"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/txn"
)

// Bounds of the input (the schema's validators hold the same).
const (
	MaxNameRunes      = 200
	MaxReferenceRunes = 100
	MaxTextRunes      = 20000
	// MaxKeywordRunes bounds a search of the policies.
	MaxKeywordRunes = 200
	// maxNamed is how many citing records a refused deletion names.
	maxNamed = 5
)

// Filter narrows the policies listed (GraphQL CompliancePolicyFilter); nil
// fields do not.
type Filter struct {
	// Keyword is found in the name, the reference or the text, ignoring case.
	Keyword *string
	// Reference: policies whose reference starts with it ("PCI DSS" finds
	// every PCI DSS requirement), ignoring case.
	Reference *string
}

// Query is the query of the policies f selects.
func Query(c *ent.Client, f *Filter) (*ent.CompliancePolicyQuery, error) {
	q := c.CompliancePolicy.Query()
	if f == nil {
		return q, nil
	}
	if f.Keyword != nil {
		k, err := searchText("filter.keyword", *f.Keyword)
		if err != nil {
			return nil, err
		}
		if k != "" {
			q.Where(compliancepolicy.Or(compliancepolicy.NameContainsFold(k),
				compliancepolicy.ReferenceContainsFold(k), compliancepolicy.TextContainsFold(k)))
		}
	}
	if f.Reference != nil {
		r, err := searchText("filter.reference", *f.Reference)
		if err != nil {
			return nil, err
		}
		if r != "" {
			q.Where(referenceStartsWith(r))
		}
	}
	return q, nil
}

// referenceStartsWith: the reference's first characters are r, ignoring
// case (lower() is strings.ToLower on SQLite, package store registers it;
// PostgreSQL's follows the server locale, as the ticket keyword's does).
func referenceStartsWith(r string) predicate.CompliancePolicy {
	return func(s *sql.Selector) {
		s.Where(sql.P(func(b *sql.Builder) {
			b.WriteString("lower(substr(").WriteString(s.C(compliancepolicy.FieldReference)).
				WriteString(", 1, ").Arg(utf8.RuneCountInString(r)).WriteString(")) = ").Arg(strings.ToLower(r))
		}))
	}
}

func searchText(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case utf8.RuneCountInString(s) > MaxKeywordRunes:
		return "", errs.Invalid(field, "must be at most %d characters", MaxKeywordRunes)
	case !utf8.ValidString(s):
		return "", errs.Invalid(field, "must be valid UTF-8")
	case errs.HasNUL(s):
		return "", errs.Invalid(field, "must not contain NUL (U+0000)")
	}
	return s, nil
}

// mayWrite refuses a viewer who may not change policies before any of
// their input is looked at.
func mayWrite(ctx context.Context, tx *ent.Tx) error {
	return compliancepolicy.Policy.EvalMutation(ctx, tx.CompliancePolicy.Create().Mutation())
}

func trimmed(p *string) *string {
	if p == nil {
		return nil
	}
	s := strings.TrimSpace(*p)
	return &s
}

// check validates the fields given (nil: not given) and refuses a name
// another policy (not id) has.
func check(ctx context.Context, tx *ent.Tx, id int, name, reference, text *string) error {
	for _, c := range []struct {
		field string
		v     *string
		max   int
	}{
		{"input.name", name, MaxNameRunes},
		{"input.reference", reference, MaxReferenceRunes},
		{"input.text", text, MaxTextRunes},
	} {
		if c.v == nil {
			continue
		}
		switch v := *c.v; {
		case c.field == "input.name" && v == "":
			return errs.Invalid(c.field, "is required")
		case !utf8.ValidString(v):
			return errs.Invalid(c.field, "must be valid UTF-8")
		case errs.HasNUL(v):
			return errs.Invalid(c.field, "must not contain NUL (U+0000)")
		case utf8.RuneCountInString(v) > c.max:
			return errs.Invalid(c.field, "must be at most %d characters", c.max)
		}
	}
	if name != nil {
		taken, err := tx.CompliancePolicy.Query().Where(compliancepolicy.Name(*name), compliancepolicy.IDNEQ(id)).Exist(ctx)
		if err != nil {
			return err
		}
		if taken {
			return &errs.Error{Code: errs.Conflict, Field: "input.name", Message: fmt.Sprintf("a policy named %q exists already", *name)}
		}
	}
	return nil
}

// Create adds a policy (admins).
func Create(ctx context.Context, c *ent.Client, in ent.CreateCompliancePolicyInput) (*ent.CompliancePolicy, error) {
	name, reference, text := trimmed(&in.Name), trimmed(in.Reference), in.Text
	return txn.Write(ctx, c, func(ctx context.Context, tx *ent.Tx) (*ent.CompliancePolicy, error) {
		if err := mayWrite(ctx, tx); err != nil {
			return nil, err
		}
		if err := check(ctx, tx, 0, name, reference, text); err != nil {
			return nil, err
		}
		return tx.CompliancePolicy.Create().SetName(*name).SetNillableReference(reference).SetNillableText(text).Save(ctx)
	})
}

// Update changes a policy (admins); the fields not given stay.
func Update(ctx context.Context, c *ent.Client, id int, in ent.UpdateCompliancePolicyInput) (*ent.CompliancePolicy, error) {
	name, reference, text := trimmed(in.Name), trimmed(in.Reference), in.Text
	return txn.Write(ctx, c, func(ctx context.Context, tx *ent.Tx) (*ent.CompliancePolicy, error) {
		if err := mayWrite(ctx, tx); err != nil {
			return nil, err
		}
		if _, err := tx.CompliancePolicy.Get(ctx, id); err != nil {
			return nil, byID(err)
		}
		if err := check(ctx, tx, id, name, reference, text); err != nil {
			return nil, err
		}
		return tx.CompliancePolicy.UpdateOneID(id).SetNillableName(name).SetNillableReference(reference).SetNillableText(text).Save(ctx)
	})
}

// Delete deletes a policy nothing cites (admins). A cited one is part of
// the compliance record: the CONFLICT names the tickets, tasks and
// schedules that cite it (all of them, whichever sites: an admin sees
// every site).
func Delete(ctx context.Context, c *ent.Client, id int) error {
	return txn.Run(ctx, c, func(ctx context.Context, tx *ent.Tx) error {
		if err := mayWrite(ctx, tx); err != nil {
			return err
		}
		// Locked on PostgreSQL: a ticket citing it meanwhile holds the
		// row's key-share lock until it commits, so it is either counted
		// below or refused by its foreign key. (SQLite serializes writers.)
		// The citations' foreign keys restrict too, so that whatever this
		// misses fails the deletion instead of dropping the citations.
		p, err := tx.CompliancePolicy.Query().Where(compliancepolicy.ID(id)).Modify(func(s *sql.Selector) {
			if s.Dialect() == dialect.Postgres {
				s.ForUpdate()
			}
		}).Only(ctx)
		if err != nil {
			return byID(err)
		}
		sys := authz.System(ctx)
		var refs []string
		for _, k := range []struct {
			what string
			q    *ent.TicketQuery
		}{
			{"ticket", tx.Ticket.Query().Where(citing(id), ticket.KindNEQ(ticket.KindTASK))},
			{"task", tx.Ticket.Query().Where(citing(id), ticket.KindEQ(ticket.KindTASK))},
		} {
			n, err := k.q.Clone().Count(sys)
			if err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			ids, err := k.q.Order(ent.Asc(ticket.FieldID)).Limit(maxNamed).IDs(sys)
			if err != nil {
				return err
			}
			named := make([]string, len(ids))
			for i, tid := range ids {
				named[i] = fmt.Sprintf("#%d", ent.TicketNumber(tid))
			}
			refs = append(refs, fmt.Sprintf("%d %s(s) (%s%s)", n, k.what, strings.Join(named, ", "), more(n)))
		}
		sq := tx.TaskSchedule.Query().Where(taskschedule.HasPoliciesWith(compliancepolicy.ID(id)))
		n, err := sq.Clone().Count(sys)
		if err != nil {
			return err
		}
		if n > 0 {
			names, err := sq.Order(ent.Asc(taskschedule.FieldName)).Limit(maxNamed).Select(taskschedule.FieldName).Strings(sys)
			if err != nil {
				return err
			}
			for i, s := range names {
				names[i] = fmt.Sprintf("%q", s)
			}
			refs = append(refs, fmt.Sprintf("%d task schedule(s) (%s%s)", n, strings.Join(names, ", "), more(n)))
		}
		if len(refs) > 0 {
			return &errs.Error{Code: errs.Conflict, Field: "id", Message: fmt.Sprintf(
				"the policy %q is cited by %s and cannot be deleted: it is part of their compliance record", p.Name, strings.Join(refs, ", "))}
		}
		return tx.CompliancePolicy.DeleteOneID(id).Exec(ctx)
	})
}

func more(n int) string {
	if n > maxNamed {
		return ", …"
	}
	return ""
}

// citing: tickets (and tasks) citing policy id, on the join table alone.
func citing(id int) predicate.Ticket {
	return ticket.HasPoliciesWith(compliancepolicy.ID(id))
}

// Tickets is the query of the tickets (not tasks) citing policy id; run
// under the viewer, the ticket privacy keeps it to the viewer's sites.
func Tickets(c *ent.Client, id int) *ent.TicketQuery {
	return c.Ticket.Query().Where(citing(id), ticket.KindNEQ(ticket.KindTASK))
}

// Tasks is the query of the tasks citing policy id (under the viewer, as Tickets).
func Tasks(c *ent.Client, id int) *ent.TicketQuery {
	return c.Ticket.Query().Where(citing(id), ticket.KindEQ(ticket.KindTASK))
}

// ScheduleOrder is the order of a policy's task schedules: by name.
var ScheduleOrder = &ent.TaskScheduleOrder{Field: ent.TaskScheduleOrderFieldName, Direction: entgql.OrderDirectionAsc}

// Schedules is the query of the task schedules citing policy id; run under
// the viewer, the schedule privacy keeps it to the viewer's sites.
func Schedules(c *ent.Client, id int) *ent.TaskScheduleQuery {
	return c.TaskSchedule.Query().Where(taskschedule.HasPoliciesWith(compliancepolicy.ID(id)))
}

// byID: a missing policy is NOT_FOUND naming the id argument.
func byID(err error) error {
	if ent.IsNotFound(err) {
		return &errs.Error{Code: errs.NotFound, Field: "id", Message: "no compliance policy with this id"}
	}
	return err
}

package sla

import (
	"time"

	"entgo.io/ent/dialect/sql"

	"socdesk/ent"
	"socdesk/ent/predicate"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
)

// States lists the SLA states.
var States = []schematype.SLAState{schematype.SLAOnTrack, schematype.SLAAtRisk, schematype.SLABreached, schematype.SLAMet}

// Clocks are what a ticket's SLA state is read from: each clock's due, the
// instant it turns AT_RISK and when it was met (nil: running), and since
// when the clocks stand still (nil: running). The dues already include
// every pause that has ended; a clock paused now is judged as of its
// pause's start.
type Clocks struct {
	ResponseDue, ResponseRisk, RespondedAt    *time.Time
	ResolutionDue, ResolutionRisk, ResolvedAt *time.Time
	PausedSince                               *time.Time
}

// ClocksOf are t's clocks, in UTC.
func ClocksOf(t *ent.Ticket) Clocks {
	return Clocks{
		ResponseDue: utc(t.ResponseDueAt), ResponseRisk: utc(t.ResponseRiskAt), RespondedAt: utc(t.RespondedAt),
		ResolutionDue: utc(t.ResolutionDueAt), ResolutionRisk: utc(t.ResolutionRiskAt), ResolvedAt: utc(t.ResolvedAt),
		PausedSince: utc(t.SLAPausedSince),
	}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// clock is one clock's state: breached, at risk, running, met.
type clock struct{ breached, atRisk, running, met bool }

func judge(due, risk, done *time.Time, at time.Time) clock {
	switch {
	case due == nil:
		return clock{}
	case done != nil:
		return clock{breached: done.After(*due), met: !done.After(*due)}
	case !at.Before(*due):
		return clock{breached: true}
	}
	return clock{running: true, atRisk: risk != nil && !at.Before(*risk)}
}

// StateOf is the SLA state of clocks at now, nil for a ticket without
// service levels (a task, a ticket older than them). The one rule: the
// field, the filter's memory half (and Predicate, its SQL half) read it.
// BREACHED when a clock is past its due unmet or was met late; else AT_RISK
// when a running clock is past its at-risk instant; else ON_TRACK while one
// runs; else MET.
func StateOf(c Clocks, now time.Time) *schematype.SLAState {
	if c.ResponseDue == nil && c.ResolutionDue == nil {
		return nil
	}
	at := now.UTC().Truncate(time.Microsecond) // as the SQL half compares
	if c.PausedSince != nil {
		at = *c.PausedSince
	}
	a := judge(c.ResponseDue, c.ResponseRisk, c.RespondedAt, at)
	b := judge(c.ResolutionDue, c.ResolutionRisk, c.ResolvedAt, at)
	s := schematype.SLAMet
	switch {
	case a.breached || b.breached:
		s = schematype.SLABreached
	case a.atRisk || b.atRisk:
		s = schematype.SLAAtRisk
	case a.running || b.running:
		s = schematype.SLAOnTrack
	}
	return &s
}

// Predicate is StateOf in SQL: the tickets whose state at now is one of
// states (an empty list matches none). Every comparison is guarded so that
// none is NULL: NOT of it stays exact.
func Predicate(states []schematype.SLAState, now time.Time) predicate.Ticket {
	return func(s *sql.Selector) {
		now := now.UTC().Truncate(time.Microsecond)
		c := s.C
		notNull := func(col string) *sql.Predicate { return sql.NotNull(c(col)) }
		isNull := func(col string) *sql.Predicate { return sql.IsNull(c(col)) }
		// at ≥ col, at being the pause's start when paused, else now.
		reached := func(col string) *sql.Predicate {
			return sql.And(notNull(col), sql.Or(
				sql.And(isNull(ticket.FieldSLAPausedSince), sql.LTE(c(col), now)),
				sql.And(notNull(ticket.FieldSLAPausedSince), sql.ColumnsLTE(c(col), c(ticket.FieldSLAPausedSince))),
			))
		}
		breached := func(due, done string) *sql.Predicate {
			return sql.And(notNull(due), sql.Or(
				sql.And(notNull(done), sql.ColumnsGT(c(done), c(due))),
				sql.And(isNull(done), reached(due)),
			))
		}
		running := func(due, done string) *sql.Predicate {
			return sql.And(notNull(due), isNull(done), sql.Not(reached(due)))
		}
		atRisk := func(due, risk, done string) *sql.Predicate {
			return sql.And(running(due, done), reached(risk))
		}
		anyBreached := sql.Or(breached(ticket.FieldResponseDueAt, ticket.FieldRespondedAt),
			breached(ticket.FieldResolutionDueAt, ticket.FieldResolvedAt))
		anyAtRisk := sql.Or(atRisk(ticket.FieldResponseDueAt, ticket.FieldResponseRiskAt, ticket.FieldRespondedAt),
			atRisk(ticket.FieldResolutionDueAt, ticket.FieldResolutionRiskAt, ticket.FieldResolvedAt))
		anyRunning := sql.Or(running(ticket.FieldResponseDueAt, ticket.FieldRespondedAt),
			running(ticket.FieldResolutionDueAt, ticket.FieldResolvedAt))
		hasSLA := sql.Or(notNull(ticket.FieldResponseDueAt), notNull(ticket.FieldResolutionDueAt))
		or := []*sql.Predicate{sql.False()}
		for _, st := range states {
			switch st {
			case schematype.SLABreached:
				or = append(or, anyBreached)
			case schematype.SLAAtRisk:
				or = append(or, sql.And(sql.Not(anyBreached), anyAtRisk))
			case schematype.SLAOnTrack:
				or = append(or, sql.And(sql.Not(anyBreached), sql.Not(anyAtRisk), anyRunning))
			case schematype.SLAMet:
				or = append(or, sql.And(hasSLA, sql.Not(anyBreached), sql.Not(anyRunning)))
			}
		}
		s.Where(sql.Or(or...))
	}
}

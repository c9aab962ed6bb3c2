package sla

import (
	"context"
	"strings"

	"socdesk/ent"
	"socdesk/ent/businesscalendar"
	"socdesk/internal/errs"
	"socdesk/internal/txn"
)

// CalendarInput is a business calendar as an admin gives it (GraphQL
// BusinessCalendarInput); nil fields stay on an update.
type CalendarInput struct {
	Name        *string
	TimeZone    *string
	WorkingDays []int
	DayStart    *string
	DayEnd      *string
	Holidays    []string
	// IsDefault true makes it the default (the former one is no longer);
	// a default stops being one only when another becomes it.
	IsDefault *bool
	// SiteID gives the calendar to a site (one calendar per site);
	// ClearSite takes it away.
	SiteID    *int
	ClearSite bool
}

// CreateCalendar makes a business calendar (admins: the data layer's policy).
func (s *Service) CreateCalendar(ctx context.Context, in CalendarInput) (*ent.BusinessCalendar, error) {
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		return nil, errs.Invalid("input.name", "is required")
	}
	if in.TimeZone == nil {
		return nil, errs.Invalid("input.timeZone", "is required")
	}
	if in.WorkingDays == nil {
		in.WorkingDays = DefaultSpec.WorkingDays
	}
	return s.writeCalendar(ctx, nil, in)
}

// UpdateCalendar changes calendar id.
func (s *Service) UpdateCalendar(ctx context.Context, id int, in CalendarInput) (*ent.BusinessCalendar, error) {
	old, err := s.Client.BusinessCalendar.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, errs.New(errs.NotFound, "no business calendar with this id")
	} else if err != nil {
		return nil, err
	}
	if in.IsDefault != nil && !*in.IsDefault && old.IsDefault {
		return nil, errs.Invalid("input.isDefault", "make another calendar the default instead: there is always one")
	}
	return s.writeCalendar(ctx, old, in)
}

// DeleteCalendar deletes calendar id; the default is not deleted.
func (s *Service) DeleteCalendar(ctx context.Context, id int) error {
	old, err := s.Client.BusinessCalendar.Get(ctx, id)
	if ent.IsNotFound(err) {
		return errs.New(errs.NotFound, "no business calendar with this id")
	} else if err != nil {
		return err
	}
	if old.IsDefault {
		return errs.New(errs.Conflict, "the default calendar is not deleted: make another the default first")
	}
	return s.Client.BusinessCalendar.DeleteOne(old).Exec(ctx)
}

func (s *Service) writeCalendar(ctx context.Context, old *ent.BusinessCalendar, in CalendarInput) (*ent.BusinessCalendar, error) {
	spec := DefaultSpec
	if old != nil {
		spec = SpecOf(old)
	}
	if in.TimeZone != nil {
		spec.TimeZone = *in.TimeZone
	}
	if in.WorkingDays != nil {
		spec.WorkingDays = SortedDays(in.WorkingDays)
	}
	if in.DayStart != nil {
		spec.DayStart = *in.DayStart
	}
	if in.DayEnd != nil {
		spec.DayEnd = *in.DayEnd
	}
	if in.Holidays != nil {
		spec.Holidays = in.Holidays
	}
	if _, err := Compile(spec); err != nil {
		return nil, err
	}
	if in.Name != nil && (len([]rune(*in.Name)) > 128 || strings.TrimSpace(*in.Name) == "") {
		return nil, errs.Invalid("input.name", "must be 1 to 128 characters")
	}
	var out *ent.BusinessCalendar
	err := txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		if in.SiteID != nil {
			if _, err := tx.Site.Get(ctx, *in.SiteID); err != nil {
				return errs.Invalid("input.siteID", "no site with this id")
			}
			taken := tx.BusinessCalendar.Query().Where(businesscalendar.SiteID(*in.SiteID))
			if old != nil {
				taken.Where(businesscalendar.IDNEQ(old.ID))
			}
			if n, err := taken.Count(ctx); err != nil || n > 0 {
				if err == nil {
					err = &errs.Error{Code: errs.Conflict, Field: "input.siteID", Message: "the site has a calendar already"}
				}
				return err
			}
		}
		if in.IsDefault != nil && *in.IsDefault {
			if err := tx.BusinessCalendar.Update().Where(businesscalendar.IsDefault(true)).SetIsDefault(false).Exec(ctx); err != nil {
				return err
			}
		}
		var m *ent.BusinessCalendarMutation
		var save func() (*ent.BusinessCalendar, error)
		if old == nil {
			c := tx.BusinessCalendar.Create()
			m, save = c.Mutation(), func() (*ent.BusinessCalendar, error) { return c.Save(ctx) }
		} else {
			u := tx.BusinessCalendar.UpdateOne(old)
			m, save = u.Mutation(), func() (*ent.BusinessCalendar, error) { return u.Save(ctx) }
		}
		if in.Name != nil {
			m.SetName(strings.TrimSpace(*in.Name))
		}
		m.SetTimeZone(spec.TimeZone)
		m.SetWorkingDays(spec.WorkingDays)
		m.SetDayStart(spec.DayStart)
		m.SetDayEnd(spec.DayEnd)
		m.SetHolidays(spec.Holidays)
		if in.IsDefault != nil {
			m.SetIsDefault(*in.IsDefault)
		}
		if in.SiteID != nil {
			m.SetSiteID(*in.SiteID)
		} else if in.ClearSite {
			m.ClearSiteID()
		}
		var err error
		out, err = save()
		if ent.IsConstraintError(err) {
			return &errs.Error{Code: errs.Conflict, Field: "input.name", Message: "a calendar has this name already"}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil // read after the commit: its edges through the client
}

// SetServiceLevels sets category id's targets (an empty list: the
// defaults). Tickets already open keep their dues until their priority,
// category or site changes.
func (s *Service) SetServiceLevels(ctx context.Context, id int, levels []*Level) (*ent.Category, error) {
	if err := ValidateLevels("serviceLevels", stored(levels)); err != nil {
		return nil, err
	}
	c, err := s.Client.Category.UpdateOneID(id).SetServiceLevels(stored(levels)).Save(ctx)
	if ent.IsNotFound(err) {
		return nil, errs.New(errs.NotFound, "no category with this id")
	}
	return c, err
}

// Calendars are the business calendars, by name.
func (s *Service) Calendars(ctx context.Context) ([]*ent.BusinessCalendar, error) {
	return s.Client.BusinessCalendar.Query().Order(ent.Asc(businesscalendar.FieldName)).Limit(MaxCalendars).All(ctx)
}

// MaxCalendars bounds the calendars listed (the default and one per site).
const MaxCalendars = 1000

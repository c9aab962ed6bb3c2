package schedules

import (
	"context"
	"slices"
	"strings"

	"socdesk/ent"
	"socdesk/ent/compliancepolicy"
	"socdesk/ent/predicate"
	"socdesk/ent/tag"
	"socdesk/ent/taskschedulewatcher"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/library"
	"socdesk/internal/txn"
)

// CopyInput is copyLibrarySchedules' arguments.
type CopyInput struct {
	IDs        []string
	SiteID     int
	TimeZone   string
	Activate   bool
	OwnerID    *int
	WatcherIDs []int
}

// Copy makes a schedule of each library entry (GraphQL
// copyLibrarySchedules), all or none, in the order of ids: the entry's
// name, description, recurrence (read in timeZone from now), due days and
// query (its search, verbatim); its tags by name (missing ones are created:
// a tag is a label, and the copy is the library's own vocabulary); its
// policies by reference, those socdesk knows (policies are admin-made
// statements: an unknown reference is skipped and named in the CREATED
// entry's reason). Each is recorded CREATED with its library id.
func (s *Service) Copy(ctx context.Context, in CopyInput) ([]*ent.TaskSchedule, error) {
	if len(in.IDs) == 0 || len(in.IDs) > MaxCopy {
		return nil, errs.Invalid("ids", "give 1 to %d library ids", MaxCopy)
	}
	entries := make([]library.Entry, len(in.IDs))
	for i, id := range in.IDs {
		e, ok := library.Get(id)
		if !ok {
			return nil, errs.Invalid("ids", "no library schedule %q", id)
		}
		entries[i] = e
	}
	loc, err := Zone("timeZone", in.TimeZone)
	if err != nil {
		return nil, err
	}
	if len(in.WatcherIDs) > MaxWatchers {
		return nil, errs.Invalid("watcherIDs", "at most %d", MaxWatchers)
	}
	var watchers []*WatcherInput
	for _, id := range dedup(in.WatcherIDs) {
		watchers = append(watchers, &WatcherInput{UserID: id, Notify: taskschedulewatcher.NotifyALL})
	}
	start := s.startOf(nil)
	rules := make([]*Rule, len(entries))
	for i, e := range entries {
		if rules[i], err = Parse("ids", e.Recurrence, start, loc); err != nil {
			return nil, errs.Invalid("ids", "library schedule %q has a recurrence socdesk refuses: %s", e.ID, err)
		}
	}
	var out []*ent.TaskSchedule
	err = txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		tags, err := s.tagsByName(ctx, tx, entries)
		if err != nil {
			return err
		}
		var refs []string
		for _, e := range entries {
			refs = append(refs, e.Policies...)
		}
		policies, err := tx.CompliancePolicy.Query().Where(compliancepolicy.ReferenceIn(refs...)).All(ctx)
		if err != nil {
			return err
		}
		for i, e := range entries {
			in := Input{Name: &e.Name, Description: &e.Description, SiteID: &in.SiteID, OwnerID: in.OwnerID,
				Watchers: watchers, Query: &QueryInput{}, DueInDays: &e.DueInDays, Active: &in.Activate}
			if strings.TrimSpace(e.Query) != "" {
				in.Query.Search = &e.Query
			}
			for _, name := range e.Tags {
				in.TagIDs = append(in.TagIDs, tags[strings.ToLower(name)])
			}
			var unknown []string
			for _, ref := range e.Policies {
				n := 0
				for _, p := range policies {
					if p.Reference == ref {
						in.PolicyIDs = append(in.PolicyIDs, p.ID)
						n++
					}
				}
				if n == 0 {
					unknown = append(unknown, ref)
				}
			}
			if err := check(in); err != nil {
				return err
			}
			var reason *string
			if len(unknown) > 0 {
				r := "copied from the library; policies not in socdesk, not cited: " + strings.Join(unknown, ", ")
				reason = &r
			}
			lib := e.ID
			sch, err := s.insert(ctx, tx, in, rules[i], start, loc.String(), &lib, reason)
			if err != nil {
				return err
			}
			out = append(out, sch)
		}
		return nil
	})
	if err != nil {
		return nil, errs.Renamed(err, copyArguments)
	}
	for i := range out {
		out[i] = out[i].Unwrap()
	}
	return out, nil
}

// copyArguments are copyLibrarySchedules' names of the schedule input's
// fields it fills.
var copyArguments = map[string]string{"input.siteID": "siteID", "input.ownerID": "ownerID", "input.watchers": "watcherIDs"}

// tagsByName is the id of each entry's tag, by lower-cased name; those
// missing are made (as the system: tags are otherwise admin-made).
func (s *Service) tagsByName(ctx context.Context, tx *ent.Tx, entries []library.Entry) (map[string]int, error) {
	var names []string
	for _, e := range entries {
		for _, n := range e.Tags {
			if !slices.ContainsFunc(names, func(m string) bool { return strings.EqualFold(m, n) }) {
				names = append(names, n)
			}
		}
	}
	out := map[string]int{}
	if len(names) == 0 {
		return out, nil
	}
	sys := authz.System(ctx)
	lower := make([]string, len(names))
	for i, n := range names {
		lower[i] = strings.ToLower(n)
	}
	var ps []predicate.Tag
	for _, n := range names {
		ps = append(ps, tag.NameEqualFold(n))
	}
	have, err := tx.Tag.Query().Where(tag.Or(ps...)).All(sys)
	if err != nil {
		return nil, err
	}
	for _, t := range have {
		if k := strings.ToLower(t.Name); slices.Contains(lower, k) {
			out[k] = t.ID
		}
	}
	for _, n := range names {
		if _, ok := out[strings.ToLower(n)]; ok {
			continue
		}
		t, err := tx.Tag.Create().SetName(n).Save(sys)
		if err != nil {
			return nil, err
		}
		out[strings.ToLower(n)] = t.ID
	}
	return out, nil
}

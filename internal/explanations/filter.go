package explanations

import (
	"time"

	"socdesk/ent/explanationrequest"
	"socdesk/ent/predicate"
	"socdesk/ent/schematype"
	"socdesk/internal/errs"
)

// maxFilterIDs bounds each id list of a filter.
const maxFilterIDs = 100

// Filter narrows the list of requests across tickets (GraphQL
// ExplanationFilter); the data layer scopes it to the viewer's tickets.
type Filter struct {
	Statuses      []schematype.ExplanationStatus // not the alias Status: see View
	Overdue       *bool
	ViolatorIDs   []int
	DepartmentIDs []int
	CategoryIDs   []int
	DeadlineFrom  *time.Time
	DeadlineTo    *time.Time
	TicketID      *int
}

// Where is the filter's predicates at now (overdue is judged at now).
func (f *Filter) Where(now time.Time) ([]predicate.ExplanationRequest, error) {
	if f == nil {
		return nil, nil
	}
	for field, ids := range map[string][]int{"filter.violatorIDs": f.ViolatorIDs, "filter.departmentIDs": f.DepartmentIDs, "filter.categoryIDs": f.CategoryIDs} {
		if len(ids) > maxFilterIDs {
			return nil, errs.Invalid(field, "at most %d", maxFilterIDs)
		}
	}
	if f.DeadlineFrom != nil && f.DeadlineTo != nil && f.DeadlineTo.Before(*f.DeadlineFrom) {
		return nil, errs.Invalid("filter.deadlineTo", "is before deadlineFrom")
	}
	var ps []predicate.ExplanationRequest
	if f.Statuses != nil {
		ps = append(ps, explanationrequest.StatusIn(f.Statuses...))
	}
	if f.Overdue != nil {
		ps = append(ps, OverdueWhere(now, *f.Overdue))
	}
	if f.ViolatorIDs != nil {
		ps = append(ps, explanationrequest.ViolatorIDIn(f.ViolatorIDs...))
	}
	if f.DepartmentIDs != nil {
		ps = append(ps, explanationrequest.DepartmentIDIn(f.DepartmentIDs...))
	}
	if f.CategoryIDs != nil {
		ps = append(ps, explanationrequest.CategoryIDIn(f.CategoryIDs...))
	}
	if f.DeadlineFrom != nil {
		ps = append(ps, explanationrequest.DeadlineGTE(f.DeadlineFrom.UTC()))
	}
	if f.DeadlineTo != nil {
		ps = append(ps, explanationrequest.DeadlineLT(f.DeadlineTo.UTC()))
	}
	if f.TicketID != nil {
		ps = append(ps, explanationrequest.TicketID(*f.TicketID))
	}
	return ps, nil
}

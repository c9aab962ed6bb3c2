package schedules

import (
	"strings"
	"unicode/utf8"

	"socdesk/ent/compliancepolicy"
	"socdesk/ent/predicate"
	"socdesk/ent/tag"
	"socdesk/ent/taskschedule"
	"socdesk/internal/errs"
)

// Bounds of Filter.
const (
	maxFilterIDs    = 100
	maxKeywordRunes = 200
)

// Filter narrows taskSchedules (GraphQL TaskScheduleFilter): each filter
// given must hold; a list holds when any of its values does.
type Filter struct {
	OwnerIDs  []int
	Active    *bool
	TagIDs    []int
	PolicyIDs []int
	SiteIDs   []int
	// Keyword is matched case-insensitively against the name and the description.
	Keyword *string
}

// Where validates f and returns its predicates.
func (f *Filter) Where() ([]predicate.TaskSchedule, error) {
	if f == nil {
		return nil, nil
	}
	for field, ids := range map[string][]int{"filter.ownerIDs": f.OwnerIDs, "filter.tagIDs": f.TagIDs,
		"filter.policyIDs": f.PolicyIDs, "filter.siteIDs": f.SiteIDs} {
		if len(ids) > maxFilterIDs {
			return nil, errs.Invalid(field, "at most %d", maxFilterIDs)
		}
	}
	var ps []predicate.TaskSchedule
	if f.OwnerIDs != nil {
		ps = append(ps, taskschedule.OwnerIDIn(f.OwnerIDs...))
	}
	if f.Active != nil {
		ps = append(ps, taskschedule.Active(*f.Active))
	}
	if f.TagIDs != nil {
		ps = append(ps, taskschedule.HasTagsWith(tag.IDIn(f.TagIDs...)))
	}
	if f.PolicyIDs != nil {
		ps = append(ps, taskschedule.HasPoliciesWith(compliancepolicy.IDIn(f.PolicyIDs...)))
	}
	if f.SiteIDs != nil {
		ps = append(ps, taskschedule.SiteIDIn(f.SiteIDs...))
	}
	if f.Keyword != nil {
		k := strings.TrimSpace(*f.Keyword)
		if k == "" || !utf8.ValidString(k) || utf8.RuneCountInString(k) > maxKeywordRunes || strings.ContainsRune(k, 0) {
			return nil, errs.Invalid("filter.keyword", "must be 1 to %d characters of valid UTF-8", maxKeywordRunes)
		}
		ps = append(ps, taskschedule.Or(taskschedule.NameContainsFold(k), taskschedule.DescriptionContainsFold(k)))
	}
	return ps, nil
}

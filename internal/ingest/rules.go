package ingest

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/detectionfingerprint"
	"socdesk/ent/detectionrule"
	"socdesk/ent/schematype"
	"socdesk/ent/tag"
	"socdesk/ent/user"
	"socdesk/internal/authz"
	"socdesk/internal/errs"
	"socdesk/internal/tickets"
	"socdesk/internal/txn"
	"socdesk/internal/viewer"
)

// RuleInput makes or changes a detection rule (GraphQL
// DetectionRuleInput); on a change, nil keeps what is there and a list
// given replaces it.
type RuleInput struct {
	Key                *string
	Name               *string
	Kind               *detectionrule.Kind
	CategoryID         *int
	SiteID             *int
	Priority           *detectionrule.Priority
	Template           *detectionrule.Template
	AssigneeIDs        []int
	ApproverIDs        []int
	TagIDs             []int
	IngesterIDs        []int
	DedupFields        []string
	DedupWindowSeconds *int
	RepeatAfterClose   *detectionrule.RepeatAfterClose
	Enabled            *bool
	TitleTemplate      *string
	Paths              *schematype.DetectionPaths
	HmacSecret         *string
	ClearHmacSecret    *bool
	EvidenceBound      *int
}

// CreateRule makes a detection rule (admins: the rule's policy).
func (s *Service) CreateRule(ctx context.Context, in RuleInput) (*ent.DetectionRule, error) {
	if err := detectionrule.Policy.EvalMutation(ctx, s.Client.DetectionRule.Create().Mutation()); err != nil {
		return nil, err
	}
	for field, given := range map[string]bool{"input.key": in.Key != nil, "input.name": in.Name != nil, "input.categoryID": in.CategoryID != nil,
		"input.siteID": in.SiteID != nil, "input.dedupFields": in.DedupFields != nil, "input.titleTemplate": in.TitleTemplate != nil} {
		if !given {
			return nil, errs.Invalid(field, "is required")
		}
	}
	if in.Paths == nil {
		in.Paths = &schematype.DetectionPaths{}
	}
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.DetectionRule, error) {
		c := tx.DetectionRule.Create()
		if err := s.apply(ctx, tx, nil, in, c.Mutation()); err != nil {
			return nil, err
		}
		return c.Save(ctx)
	})
}

// UpdateRule changes a detection rule.
func (s *Service) UpdateRule(ctx context.Context, id int, in RuleInput) (*ent.DetectionRule, error) {
	return txn.Write(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) (*ent.DetectionRule, error) {
		old, err := tx.DetectionRule.Query().Where(detectionrule.ID(id)).Only(ctx)
		if ent.IsNotFound(err) {
			return nil, &errs.Error{Code: errs.NotFound, Field: "id", Message: "no detection rule with this id"}
		} else if err != nil {
			return nil, err
		}
		u := tx.DetectionRule.UpdateOne(old)
		if err := s.apply(ctx, tx, old, in, u.Mutation()); err != nil {
			return nil, err
		}
		return u.Save(ctx)
	})
}

// DeleteRule deletes a detection rule; its tickets stay, and its attacks
// are forgotten (a repeat through a new rule opens a new ticket).
func (s *Service) DeleteRule(ctx context.Context, id int) error {
	return txn.Run(ctx, s.Client, func(ctx context.Context, tx *ent.Tx) error {
		if err := tx.DetectionRule.DeleteOneID(id).Exec(ctx); ent.IsNotFound(err) {
			return &errs.Error{Code: errs.NotFound, Field: "id", Message: "no detection rule with this id"}
		} else if err != nil {
			return err
		}
		_, err := tx.DetectionFingerprint.Delete().Where(detectionfingerprint.RuleID(id)).Exec(authz.System(ctx))
		return err
	})
}

// apply checks in against the rule old (nil: a new one) and sets it on m.
func (s *Service) apply(ctx context.Context, tx *ent.Tx, old *ent.DetectionRule, in RuleInput, m *ent.DetectionRuleMutation) error {
	// Only those who may make the change learn what is wrong with it.
	if err := detectionrule.Policy.EvalMutation(ctx, m); err != nil {
		return err
	}
	sys := authz.System(ctx)
	if in.Key != nil {
		key := strings.TrimSpace(*in.Key)
		if !detectionKey.MatchString(key) {
			return errs.Invalid("input.key", "must be 1 to 64 lower-case letters, digits, _ or -, starting with a letter or digit")
		}
		taken, err := tx.DetectionRule.Query().Where(detectionrule.Key(key)).Exist(sys)
		if err != nil {
			return err
		}
		if taken && (old == nil || old.Key != key) {
			return &errs.Error{Code: errs.Conflict, Field: "input.key", Message: "another detection rule has this key"}
		}
		m.SetKey(key)
	}
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if n := utf8.RuneCountInString(name); n == 0 || n > 128 {
			return errs.Invalid("input.name", "must be 1 to 128 characters")
		}
		m.SetName(name)
	}
	if in.Kind != nil {
		m.SetKind(*in.Kind)
	}
	if in.Priority != nil {
		m.SetPriority(*in.Priority)
	}
	if in.CategoryID != nil {
		cat, err := tx.Category.Query().Where(category.ID(*in.CategoryID)).Only(sys)
		if ent.IsNotFound(err) {
			return errs.Invalid("input.categoryID", "refers to no category")
		} else if err != nil {
			return err
		}
		if cat.Workflow == category.WorkflowTASK {
			return errs.Invalid("input.categoryID", "the category holds compliance tasks, not detections")
		}
		m.SetCategoryID(cat.ID)
	}
	siteID, _ := m.SiteID()
	if in.SiteID != nil {
		if err := s.Tickets.CheckRefs(ctx, map[string][]int{"input.siteID": {*in.SiteID}}, "sites"); err != nil {
			return err
		}
		siteID = *in.SiteID
		m.SetSiteID(siteID)
	} else if old != nil {
		siteID = old.SiteID
	}
	people := func(field string, ids []int, set func(...int), clear func()) error {
		ids, err := tickets.Distinct(field, ids, tickets.MaxPeople)
		if err != nil {
			return err
		}
		if err := s.Tickets.CheckUsers(ctx, field, ids); err != nil {
			return err
		}
		if err := s.Tickets.CheckCanSee(ctx, field, ids, siteID); err != nil {
			return err
		}
		if old != nil {
			clear()
		}
		set(ids...)
		return nil
	}
	if in.AssigneeIDs != nil || (old != nil && in.SiteID != nil) {
		ids := in.AssigneeIDs
		if ids == nil {
			var err error
			if ids, err = old.QueryAssignees().IDs(sys); err != nil {
				return err
			}
		}
		if err := people("input.assigneeIDs", ids, m.AddAssigneeIDs, m.ClearAssignees); err != nil {
			return err
		}
	}
	if in.ApproverIDs != nil || (old != nil && in.SiteID != nil) {
		ids := in.ApproverIDs
		if ids == nil {
			var err error
			if ids, err = old.QueryApprovers().IDs(sys); err != nil {
				return err
			}
		}
		if err := people("input.approverIDs", ids, m.AddApproverIDs, m.ClearApprovers); err != nil {
			return err
		}
	}
	if in.TagIDs != nil {
		ids, err := tickets.Distinct("input.tagIDs", in.TagIDs, tickets.MaxTags)
		if err != nil {
			return err
		}
		if n, err := tx.Tag.Query().Where(tag.IDIn(ids...)).Count(sys); err != nil {
			return err
		} else if n != len(ids) {
			return errs.Invalid("input.tagIDs", "refers to no tag")
		}
		if old != nil {
			m.ClearTags()
		}
		m.AddTagIDs(ids...)
	}
	if in.IngesterIDs != nil {
		ids, err := tickets.Distinct("input.ingesterIDs", in.IngesterIDs, 100)
		if err != nil {
			return err
		}
		if n, err := tx.User.Query().Where(user.IDIn(ids...), user.RoleEQ(user.RoleSERVICE)).Count(sys); err != nil {
			return err
		} else if n != len(ids) {
			return errs.Invalid("input.ingesterIDs", "must be service accounts (users of role SERVICE)")
		}
		if old != nil {
			m.ClearIngesters()
		}
		m.AddIngesterIDs(ids...)
	}
	if in.DedupFields != nil {
		if n := len(in.DedupFields); n == 0 || n > MaxDedupFields {
			return errs.Invalid("input.dedupFields", "1 to %d JSON paths", MaxDedupFields)
		}
		for _, p := range in.DedupFields {
			if err := checkPath("input.dedupFields", p); err != nil {
				return err
			}
		}
		m.SetDedupFields(in.DedupFields)
	}
	if w := in.DedupWindowSeconds; w != nil {
		if d := time.Duration(*w) * time.Second; d < MinWindow || d > MaxWindow {
			return errs.Invalid("input.dedupWindowSeconds", "must be 1 to %d seconds (30 days)", int(MaxWindow/time.Second))
		}
		m.SetDedupWindowSeconds(*w)
	}
	if in.RepeatAfterClose != nil {
		m.SetRepeatAfterClose(*in.RepeatAfterClose)
	}
	if in.Enabled != nil {
		m.SetEnabled(*in.Enabled)
	}
	if in.TitleTemplate != nil {
		t := *in.TitleTemplate
		if strings.TrimSpace(t) == "" || utf8.RuneCountInString(t) > MaxTemplateLength {
			return errs.Invalid("input.titleTemplate", "must be 1 to %d characters", MaxTemplateLength)
		}
		if _, err := parseTitle(t); err != nil {
			return errs.Invalid("input.titleTemplate", "%v", err)
		}
		m.SetTitleTemplate(t)
	}
	if in.Paths != nil {
		if err := checkPaths(*in.Paths); err != nil {
			return err
		}
		m.SetPaths(*in.Paths)
	}
	tpl, _ := m.Template()
	if in.Template != nil {
		m.SetTemplate(*in.Template)
	} else if old != nil {
		tpl = old.Template
	} else {
		tpl = detectionrule.DefaultTemplate
	}
	paths, ok := m.Paths()
	if !ok && old != nil {
		paths = old.Paths
	}
	if err := pathsFit(tpl, paths); err != nil {
		return err
	}
	if in.ClearHmacSecret != nil && *in.ClearHmacSecret {
		if in.HmacSecret != nil {
			return errs.Invalid("input.clearHmacSecret", "cannot be given with hmacSecret")
		}
		m.ClearHmacSecret()
	}
	if sec := in.HmacSecret; sec != nil {
		if n := len(*sec); n < MinSecretLength || n > MaxSecretLength {
			return errs.Invalid("input.hmacSecret", "must be %d to %d bytes", MinSecretLength, MaxSecretLength)
		}
		m.SetHmacSecret(*sec)
	}
	if b := in.EvidenceBound; b != nil {
		if *b < 1 || *b > tickets.MaxEvidencePerTicket {
			return errs.Invalid("input.evidenceBound", "must be 1 to %d", tickets.MaxEvidencePerTicket)
		}
		m.SetEvidenceBound(*b)
	}
	if v := viewer.FromContext(ctx); v != nil {
		m.SetUpdatedByID(v.UserID)
	}
	return nil
}

func checkPaths(p schematype.DetectionPaths) error {
	for name, path := range map[string]string{"firstDetectedAt": p.FirstDetectedAt, "lastDetectedAt": p.LastDetectedAt,
		"sourceIP": p.SourceIP, "destinationIP": p.DestinationIP, "sourcePort": p.SourcePort, "destinationPort": p.DestinationPort,
		"protocol": p.Protocol, "host": p.Host} {
		if path != "" {
			if err := checkPath("input.paths."+name, path); err != nil {
				return err
			}
		}
	}
	if len(p.CustomFields) > tickets.MaxCustomFields {
		return errs.Invalid("input.paths.customFields", "at most %d", tickets.MaxCustomFields)
	}
	seen := map[string]bool{}
	for _, c := range p.CustomFields {
		if k := strings.TrimSpace(c.Key); k == "" || utf8.RuneCountInString(k) > 64 || seen[k] {
			return errs.Invalid("input.paths.customFields", "keys must be 1 to 64 characters, each once")
		}
		seen[c.Key] = true
		if err := checkPath("input.paths.customFields", c.Path); err != nil {
			return err
		}
	}
	return nil
}

// pathsFit refuses paths that leave out what the template requires of
// every ticket (its addresses, its host, an email's from and to).
func pathsFit(tpl detectionrule.Template, p schematype.DetectionPaths) error {
	has := func(k string) bool {
		for _, c := range p.CustomFields {
			if c.Key == k {
				return true
			}
		}
		return false
	}
	switch tpl {
	case detectionrule.TemplateNETWORK:
		if p.SourceIP == "" {
			return errs.Invalid("input.paths.sourceIP", "is required by the NETWORK template")
		}
		if p.DestinationIP == "" {
			return errs.Invalid("input.paths.destinationIP", "is required by the NETWORK template")
		}
	case detectionrule.TemplateENDPOINT:
		if p.Host == "" {
			return errs.Invalid("input.paths.host", "is required by the ENDPOINT template")
		}
	case detectionrule.TemplateEMAIL:
		if !has("from") || !has("to") {
			return errs.Invalid("input.paths.customFields", `"from" and "to" are required by the EMAIL template`)
		}
	}
	return nil
}

// RuleByKey is the rule with key as the viewer may see it, or nil.
func (s *Service) RuleByKey(ctx context.Context, key string) (*ent.DetectionRule, error) {
	r, err := s.Client.DetectionRule.Query().Where(detectionrule.Key(key)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return r, err
}

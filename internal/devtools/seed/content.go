package seed

import (
	"fmt"
	"strings"

	"socdesk/ent/category"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
)

// This file holds the word lists the generators draw from. Text templates use
// {placeholders} that expand() fills from a ticket's details.

type siteSpec struct{ name, description string }

// siteSpecs are the sites of both data sets: Demo uses the first five,
// Synthetic all twenty.
var siteSpecs = []siteSpec{
	{"Tokyo HQ", "Head office in Marunouchi: corporate IT, finance and HR."},
	{"Osaka Plant", "Manufacturing plant with a segregated OT network."},
	{"Singapore Office", "APAC regional office and shared service centre."},
	{"Frankfurt DC", "Primary EU data centre (colocation, two halls)."},
	{"AWS Production", "Production workloads in AWS ap-northeast-1 and eu-central-1."},
	{"Nagoya Branch", "Sales branch office."},
	{"Fukuoka Branch", "Sales branch office and call centre."},
	{"Sapporo Office", "Development office."},
	{"London Office", "EMEA sales and legal."},
	{"New York Office", "Americas headquarters."},
	{"Sydney Office", "ANZ sales office."},
	{"Seoul Office", "Korea subsidiary."},
	{"Shanghai Office", "China subsidiary; separate internet breakout."},
	{"Bangkok Factory", "Assembly plant with OT network."},
	{"Hanoi Dev Center", "Offshore development centre."},
	{"Azure Corporate Tenant", "Microsoft 365 and Entra ID tenant."},
	{"GCP Analytics", "Data analytics projects in Google Cloud."},
	{"Remote Workforce", "Laptops of remote employees connecting over VPN."},
	{"Retail Stores", "POS terminals and store networks."},
	{"R&D Lab", "Research lab with isolated test networks."},
}

// A theme selects the analysis titles and summaries of a category.
type theme int

const (
	themeAlert theme = iota
	themeVuln
	themeHunt
	themeAccess
	themeFirewall
	themeIntel
	themeIncident
	themePhishing
	themeCount
)

type categorySpec struct {
	name        string
	description string
	workflow    category.Workflow
	theme       theme
	detection   float64 // share of DETECTION tickets
}

const (
	wfApproval = category.WorkflowAPPROVAL
	wfIR       = category.WorkflowINCIDENT_RESPONSE
)

// demoCategories are the categories of the demo data set.
var demoCategories = []categorySpec{
	{"Security Incidents", "Confirmed or suspected security incidents handled by the CSIRT.", wfIR, themeIncident, 0.7},
	{"Phishing Response", "Reported and detected phishing e-mails.", wfIR, themePhishing, 0.85},
	{"Alert Triage", "Alerts from EDR, IDS and the SIEM awaiting an analyst verdict.", wfApproval, themeAlert, 0.95},
	{"Vulnerability Management", "Vulnerability scan findings and patch approvals.", wfApproval, themeVuln, 0.25},
	{"Threat Hunting", "Hypothesis-driven hunts and their findings.", wfApproval, themeHunt, 0.1},
	{"Access Reviews", "Privileged and dormant account reviews.", wfApproval, themeAccess, 0},
	{"Firewall Change Requests", "Firewall and proxy rule changes needing security approval.", wfApproval, themeFirewall, 0},
	{"Threat Intelligence", "Threat intel reports, IOC sweeps and advisories.", wfApproval, themeIntel, 0.2},
}

// syntheticCategories returns the 60 categories of the benchmark data set
// (10 INCIDENT_RESPONSE); the demo categories are among them.
func syntheticCategories() []categorySpec {
	specs := append([]categorySpec(nil), demoCategories...)
	ir := []struct {
		name string
		th   theme
	}{
		{"Ransomware Response", themeIncident}, {"Insider Threat", themeIncident},
		{"DDoS Response", themeIncident}, {"Data Leak Response", themeIncident},
		{"Account Compromise", themeIncident}, {"Cloud Incidents", themeIncident},
		{"OT/ICS Incidents", themeIncident}, {"Business Email Compromise", themePhishing},
	}
	for _, c := range ir {
		specs = append(specs, categorySpec{c.name, "Incident response for " + strings.ToLower(c.name) + ".", wfIR, c.th, 0.6})
	}
	topics := []struct {
		name string
		th   theme
		det  float64
	}{
		{"Alert Triage", themeAlert, 0.95}, {"Patch Approvals", themeVuln, 0.1},
		{"Vulnerability Findings", themeVuln, 0.4}, {"Threat Hunting", themeHunt, 0.1},
		{"Access Reviews", themeAccess, 0}, {"Firewall Changes", themeFirewall, 0},
		{"Threat Intelligence", themeIntel, 0.2}, {"EDR Alerts", themeAlert, 1},
		{"Mail Security", themePhishing, 0.8}, {"Cloud Posture", themeVuln, 0.5},
		{"Identity Alerts", themeAccess, 0.7},
	}
	regions := []string{"Japan", "APAC", "EMEA", "Americas"}
	for _, r := range regions {
		for _, t := range topics {
			if len(specs) == 60 {
				break
			}
			specs = append(specs, categorySpec{t.name + " - " + r, t.name + " for the " + r + " region.", wfApproval, t.th, t.det})
		}
	}
	return specs
}

var tagColors = []string{
	"#d73a4a", "#e99695", "#f9d0c4", "#fbca04", "#fef2c0", "#0e8a16", "#c2e0c6", "#006b75",
	"#bfdadc", "#1d76db", "#c5def5", "#0052cc", "#5319e7", "#d4c5f9", "#b60205", "#5f6368",
}

// tagNames are the tags of both data sets: Demo uses the first fifteen,
// Synthetic 200 (the list padded with campaign tags).
var tagNames = []string{
	"phishing", "malware", "ransomware", "c2", "brute-force", "lateral-movement", "exfiltration",
	"false-positive", "vip", "needs-followup", "edr", "ids", "email", "vulnerability", "insider-threat",
	// more descriptive tags
	"credential-access", "persistence", "privilege-escalation", "discovery", "initial-access",
	"defense-evasion", "impact", "cloud", "ot", "tor", "dns", "web", "vpn", "mfa", "zero-day",
	"customer-impact", "legal-hold", "escalated", "recurring", "tuning-needed", "known-scanner",
	"pentest", "red-team", "awareness", "third-party",
	// malware families, tools and named vulnerabilities
	"emotet", "qakbot", "icedid", "cobalt-strike", "lockbit", "blackcat", "clop", "asyncrat",
	"remcos", "agent-tesla", "formbook", "redline", "lumma", "njrat", "plugx", "shadowpad",
	"sliver", "brute-ratel", "mimikatz", "impacket", "bloodhound", "log4shell", "proxyshell",
	"follina", "moveit", "citrix-bleed", "printnightmare",
	// threat actors
	"apt29", "apt41", "lazarus", "fin7", "ta505", "scattered-spider", "volt-typhoon", "kimsuky",
	// MITRE ATT&CK techniques
	"T1059", "T1566", "T1078", "T1110", "T1003", "T1486", "T1071", "T1021", "T1053", "T1547",
	"T1055", "T1105", "T1190", "T1133", "T1048", "T1567", "T1027", "T1562", "T1070", "T1112",
	"T1218", "T1204", "T1036", "T1082", "T1083", "T1018", "T1046", "T1087", "T1069", "T1057",
	"T1012", "T1016", "T1049", "T1033", "T1135", "T1560", "T1005", "T1039", "T1114", "T1213",
	"T1041", "T1090", "T1095", "T1572", "T1573", "T1568", "T1219", "T1098", "T1136", "T1543",
	"T1546", "T1574", "T1068", "T1134", "T1548", "T1484", "T1556", "T1558", "T1552", "T1555",
	"T1539", "T1557", "T1040", "T1210", "T1570", "T1534", "T1080", "T1091", "T1499", "T1498",
	"T1490", "T1489", "T1485", "T1491", "T1529", "T1195", "T1199", "T1189", "T1200",
}

func syntheticTags() []string {
	tags := append([]string(nil), tagNames...)
	for i := 1; len(tags) < 200; i++ {
		tags = append(tags, fmt.Sprintf("campaign-%03d", i))
	}
	return tags[:200]
}

type userSpec struct {
	login, displayName string
	perms              []schematype.Permission
	sites              []int // indexes into the data set's sites; nil means all
	service            bool
}

var (
	permView = []schematype.Permission{schematype.PermissionTicketView}
	permEdit = []schematype.Permission{schematype.PermissionTicketView, schematype.PermissionTicketEdit}
)

// detectorLogin is the service account that registers SYSTEM tickets.
const detectorLogin = "detector"

var demoUsers = []userSpec{
	{detectorLogin, "Detection Engine", permEdit, nil, true},
	{"s.tanaka", "Satoshi Tanaka", permEdit, nil, false},
	{"y.suzuki", "Yuki Suzuki", permEdit, []int{0, 1}, false},
	{"k.sato", "Kenji Sato", permEdit, []int{1, 2}, false},
	{"m.ito", "Mika Ito", permEdit, []int{0, 3}, false},
	{"j.smith", "John Smith", permEdit, []int{3, 4}, false},
	{"a.mueller", "Anna Müller", permEdit, []int{3, 4}, false},
	{"p.kumar", "Priya Kumar", permEdit, []int{2, 4}, false},
	{"l.chen", "Li Chen", permEdit, []int{2}, false},
	{"h.yamamoto", "Haruto Yamamoto", permEdit, []int{0, 1, 2}, false},
	{"e.garcia", "Elena Garcia", permView, nil, false},
	{"r.kobayashi", "Rina Kobayashi", permView, []int{1}, false},
}

var serviceLogins = []string{detectorLogin, "edr-connector", "siem-connector", "mail-gateway", "ids-sensor"}

var firstNames = []string{
	"Satoshi", "Yuki", "Kenji", "Mika", "Haruto", "Rina", "Takumi", "Aoi", "Daiki", "Sakura",
	"Ren", "Hina", "Sota", "Yui", "Kaito", "Emi", "John", "Anna", "Priya", "Li",
	"Elena", "Michael", "Sarah", "David", "Laura", "James", "Maria", "Thomas", "Julia", "Daniel",
	"Sofia", "Lucas", "Chloe", "Noah", "Min-jun", "Seo-yeon", "Wei", "Mei", "Arjun", "Ananya",
	"Nguyen", "Linh", "Somchai", "Ploy", "Oliver", "Emma", "Liam", "Mia", "Lena", "Jonas",
}

var lastNames = []string{
	"Tanaka", "Suzuki", "Sato", "Ito", "Yamamoto", "Kobayashi", "Watanabe", "Takahashi", "Nakamura", "Kato",
	"Yoshida", "Yamada", "Sasaki", "Inoue", "Kimura", "Smith", "Johnson", "Brown", "Garcia", "Mueller",
	"Schmidt", "Kumar", "Sharma", "Chen", "Wang", "Li", "Kim", "Park", "Lee", "Tran",
	"Pham", "Wong", "Martin", "Dubois", "Rossi", "Silva", "Novak", "Jensen", "Murphy", "Taylor",
}

// A scenario is a kind of detection: its template, title, rule and summary.
type scenario struct {
	template ticket.DetectionTemplate
	title    string
	rule     string
	summary  string
	inbound  bool // the source is external, the destination ours
	lateral  bool // both ends internal
	port     int
	protocol string
	priority ticket.Priority
}

const (
	tNet   = ticket.DetectionTemplateNETWORK
	tEnd   = ticket.DetectionTemplateENDPOINT
	tEmail = ticket.DetectionTemplateEMAIL
	pHigh  = ticket.PriorityHIGH
	pMed   = ticket.PriorityMEDIUM
	pLow   = ticket.PriorityLOW
)

var scenarios = []scenario{
	{tNet, "Outbound connection to known C2 server {ext}", "ET MALWARE Known C2 Domain Communication",
		"Host {host} ({int}) connected to {ext} on TCP/{port}, an address listed as command-and-control infrastructure. Beaconing interval is about {n} seconds.", false, false, 443, "TCP", pHigh},
	{tNet, "Cobalt Strike beacon traffic from {host}", "ET MALWARE Cobalt Strike Beacon Observed",
		"Periodic HTTPS beacon from {int} to {ext} matches a Cobalt Strike malleable C2 profile.", false, false, 443, "TCP", pHigh},
	{tNet, "SSH brute-force attempts against {host}", "SSH Brute Force Threshold Exceeded",
		"{n} failed SSH logins from {ext} to {host} within 10 minutes; no successful login observed.", true, false, 22, "TCP", pMed},
	{tNet, "RDP login attempts from internet on {host}", "Inbound RDP From Untrusted Network",
		"Repeated RDP authentication attempts from {ext} against {host}; the host should not be reachable from the internet.", true, false, 3389, "TCP", pMed},
	{tNet, "Possible DNS tunneling from {host}", "DNS Query Length Anomaly",
		"Unusually long TXT queries to subdomains of {domain} from {int}, consistent with DNS tunneling.", false, false, 53, "UDP", pMed},
	{tNet, "Port scan from {ext}", "Horizontal Port Scan Detected",
		"Horizontal scan from {ext} touched {n} hosts on TCP/{port}; source is not a known scanner.", true, false, 445, "TCP", pLow},
	{tNet, "SMB lateral movement from {host}", "Internal SMB Admin Share Access",
		"{int} accessed ADMIN$ on {n} internal hosts using a service account, a typical lateral movement pattern.", false, true, 445, "TCP", pHigh},
	{tNet, "Large upload to cloud storage from {host}", "Data Exfiltration Volume Threshold",
		"{n} MB uploaded from {host} to {domain} outside business hours; possible exfiltration.", false, false, 443, "TCP", pMed},
	{tNet, "Tor connection from {host}", "ET POLICY TOR Known Relay Traffic",
		"{int} connected to a known Tor relay at {ext}; Tor is prohibited by policy.", false, false, 9001, "TCP", pLow},
	{tNet, "Log4Shell exploitation attempt against {host}", "ET EXPLOIT Apache log4j RCE Attempt",
		"JNDI lookup string in the HTTP User-Agent from {ext}; the target {host} answered 200.", true, false, 8080, "TCP", pHigh},
	{tEnd, "Suspicious PowerShell execution on {host}", "Encoded PowerShell Launched By Office",
		"Encoded PowerShell command launched by winword.exe on {host} as {user}; it downloads a payload from {domain}.", false, false, 0, "", pHigh},
	{tEnd, "Mimikatz credential dumping on {host}", "LSASS Memory Access By Unsigned Binary",
		"LSASS memory read by an unsigned binary on {host}; the command line matches Mimikatz sekurlsa::logonpasswords.", false, false, 0, "", pHigh},
	{tEnd, "Ransomware behaviour: mass file encryption on {host}", "Mass File Rename With Unknown Extension",
		"{n} files renamed with a .locked extension within two minutes on {host}; the process was quarantined by EDR.", false, false, 0, "", pHigh},
	{tEnd, "Malware quarantined: {malware} on {host}", "EDR Malware Quarantine",
		"EDR quarantined {malware} dropped in the temp folder of {user} on {host}. No further execution observed.", false, false, 0, "", pMed},
	{tEnd, "Scheduled task persistence created on {host}", "Suspicious Scheduled Task Creation",
		"A scheduled task running a script from AppData was created on {host} by {user}, a common persistence technique.", false, false, 0, "", pMed},
	{tEnd, "Defender real-time protection disabled on {host}", "Antivirus Tampering Via Registry",
		"Registry change disabled Defender real-time protection on {host}; the change was made by {user}.", false, false, 0, "", pMed},
	{tEnd, "Unusual rundll32 child process on {host}", "Rundll32 Spawning Network Utility",
		"rundll32.exe spawned nltest.exe and net.exe on {host}, which suggests domain discovery.", false, false, 0, "", pLow},
	{tEmail, "Phishing e-mail with malicious attachment to {user}", "Malicious Macro Attachment Delivered",
		"Message from {sender} with attachment invoice_{n}.xlsm was delivered to {user}; the macro contacts {domain}.", true, false, 25, "SMTP", pMed},
	{tEmail, "Credential phishing link reported by {user}", "User Reported Phishing",
		"{user} reported a fake Microsoft 365 login page at hxxps://{domain}/login; {n} recipients received the message.", true, false, 25, "SMTP", pMed},
	{tEmail, "Business e-mail compromise attempt targeting finance", "Display Name Spoofing Of Executive",
		"Spoofed executive address {sender} asked {user} to change supplier bank details before month end.", true, false, 25, "SMTP", pHigh},
	{tEmail, "Malicious URL clicked by {user}", "URL Click On Known Phishing Domain",
		"{user} clicked a link to {domain} that was rewritten by the mail gateway and later classified as phishing.", true, false, 443, "HTTPS", pMed},
	{tEmail, "Outbound spam from mailbox of {user}", "Outbound Mail Volume Anomaly",
		"Mailbox of {user} sent {n} messages in one hour to external recipients; the account may be compromised.", false, false, 587, "SMTP", pLow},
}

type analysisText struct{ title, summary string }

var analysisTexts = [themeCount][]analysisText{
	themeAlert: {
		{"Review of {rule} false positives", "The rule fired {n} times last week, mostly on backup servers; propose an exclusion for the backup agent."},
		{"Weekly alert tuning for {site}", "Noisy detections at {site} were reviewed; {n} rules need threshold changes to reduce false positives."},
		{"Recurring alerts on {host}", "{host} triggers the same EDR alert every night at the scheduled scan; confirm with the owner whether this is expected."},
	},
	themeVuln: {
		{"{cve} exposure assessment for {site}", "Scan results show {n} hosts at {site} running versions affected by {cve}; patching is tracked per host."},
		{"Monthly vulnerability scan review - {site}", "Critical and high findings of the monthly scan at {site} were triaged; {n} need an emergency patch window."},
		{"Patch status of internet-facing servers at {site}", "Internet-facing servers at {site} were checked against the latest advisories; {host} is missing the latest security update."},
	},
	themeHunt: {
		{"Threat hunt: {actor} TTPs at {site}", "Hunt for techniques attributed to {actor}: persistence via scheduled tasks and credential dumping. {n} hosts reviewed."},
		{"Hunt for persistence via scheduled tasks", "Searched EDR telemetry for scheduled tasks running scripts from user-writable folders; {n} candidates found."},
		{"Hunt: anomalous service account logons", "Looked for interactive logons by service accounts; {user} logged on interactively to {host}."},
	},
	themeAccess: {
		{"Quarterly privileged access review - {site}", "Domain admin and local admin memberships at {site} were compared with the approved list; {n} accounts need removal."},
		{"Dormant admin accounts at {site}", "{n} privileged accounts at {site} have not logged in for 90 days and should be disabled."},
		{"VPN access review for contractors", "Contractor VPN accounts were reviewed against active contracts; {user} still has access after the contract ended."},
	},
	themeFirewall: {
		{"Firewall change request: open TCP/{port} to {host}", "Application team requests TCP/{port} from the partner network to {host}; review the business justification and scope."},
		{"Remove legacy any-any rule at {site}", "A legacy any-any rule at {site} still matches {n} connections a day; plan the removal with the network team."},
		{"Proxy exception request for {domain}", "Business requests an exception for {domain}; the domain is newly registered and has no reputation yet."},
	},
	themeIntel: {
		{"Threat intel: {actor} campaign IOCs", "New report on {actor} lists {n} IOCs; sweep proxy, DNS and EDR logs for matches."},
		{"{malware} campaign targeting our sector", "Peers report {malware} delivered through invoice-themed phishing; check mail gateway logs and block the sender infrastructure."},
		{"IOC sweep for {cve} exploitation", "Vendor published exploitation indicators for {cve}; sweep web server logs for the listed URIs."},
	},
	themeIncident: {
		{"Compromised account {user}", "Impossible-travel sign-ins and a new MFA device for {user}; sessions revoked, investigating mailbox rules."},
		{"Ransomware precursor activity at {site}", "Cobalt Strike and AdFind activity observed at {site}; containment of {host} in progress."},
		{"Suspected data exfiltration via {domain}", "{n} MB uploaded to {domain} from {host}; determine what data left and whether it was authorised."},
	},
	themePhishing: {
		{"Phishing campaign impersonating the IT helpdesk", "{n} employees received a fake password-expiry e-mail; the link leads to a credential harvesting page on {domain}."},
		{"Credential harvesting campaign against {site} staff", "A phishing wave hit {site}; {user} entered credentials, password reset and session revocation done."},
		{"Malicious invoice e-mails from {sender}", "Invoice-themed e-mails carrying {malware} were sent to finance; {n} messages purged from mailboxes."},
	},
}

var nextSteps = []string{
	"Confirm with the asset owner", "Collect EDR triage package", "Block the indicators on proxy and firewall",
	"Reset credentials of affected accounts", "Check other hosts for the same indicators", "Update the detection rule",
	"Report to the site manager", "Close if no further activity within 7 days",
}

var memoTexts = []string{
	"Isolated {host} from the network via EDR.",
	"Blocked {ext} on the perimeter firewall and the proxy.",
	"Reset the password of {user} and revoked all sessions.",
	"Confirmed **false positive**: the traffic comes from the vulnerability scanner.",
	"Checked proxy logs for the last 7 days; no further connections to {domain}.",
	"Submitted the sample to the sandbox; verdict **malicious** ({malware}).",
	"Asked the site admin to patch {host} during the next maintenance window.",
	"Called {user}; they did not open the attachment.",
	"Collected memory image and event logs from {host} for analysis.",
	"Escalated to the CSIRT lead; waiting for approval to reimage {host}.",
}

var (
	malwareNames = []string{"Emotet", "QakBot", "IcedID", "LockBit", "AsyncRAT", "Remcos", "Agent Tesla", "FormBook", "RedLine Stealer", "Lumma Stealer", "PlugX", "njRAT"}
	actorNames   = []string{"APT29", "APT41", "Lazarus Group", "FIN7", "TA505", "Scattered Spider", "Volt Typhoon", "Kimsuky"}
	cveIDs       = []string{"CVE-2021-44228", "CVE-2023-34362", "CVE-2023-4966", "CVE-2024-3400", "CVE-2024-21887", "CVE-2023-20198", "CVE-2022-30190", "CVE-2024-6387", "CVE-2023-23397", "CVE-2021-34527"}
	badDomains   = []string{"login-microsoft365-secure.com", "cdn-update-check.net", "invoice-portal-docs.com", "dropbox-share-files.info", "files-wetransfer.co", "update-adobe-reader.org", "paypal-verify-account.net", "megasync-cloud.xyz"}
	senderAddrs  = []string{"billing@invoice-portal-docs.com", "ceo.office@gmail.com", "no-reply@m365-security-alert.com", "accounts@supplier-payments.net", "hr-benefits@payroll-update.info"}
	hostPrefixes = []string{"WS-FIN", "WS-HR", "WS-DEV", "WS-SALES", "LT-EXEC", "SRV-WEB", "SRV-DB", "SRV-FILE", "SRV-DC", "SRV-APP", "VM-BUILD", "SRV-MAIL"}
	processes    = []string{"powershell.exe", "rundll32.exe", "mshta.exe", "wscript.exe", "cmd.exe", "regsvr32.exe", "certutil.exe", "svchost.exe"}
	parents      = []string{"WINWORD.EXE", "EXCEL.EXE", "OUTLOOK.EXE", "explorer.exe", "services.exe", "wmiprvse.exe"}
	sensors      = []string{"ids-tokyo-01", "ids-osaka-01", "ids-fra-02", "zeek-sg-01", "fw-core-01", "ndr-aws-01"}
	extPrefixes  = []string{"203.0.113.", "198.51.100.", "192.0.2.", "185.220.101.", "45.155.205.", "91.92.109."}
)

// expand replaces the {placeholders} of s by the values of d.
func expand(s string, d *details) string {
	if strings.IndexByte(s, '{') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 32)
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(d.value(s[i+1 : i+j]))
		s = s[i+j+1:]
	}
}

// details are the concrete values a ticket's texts mention.
type details struct {
	host, intIP, extIP, user, domain, sender, malware, actor, cve, site, rule string
	port, n                                                                   int
}

func (d *details) value(key string) string {
	switch key {
	case "host":
		return d.host
	case "int":
		return d.intIP
	case "ext":
		return d.extIP
	case "user":
		return d.user
	case "domain":
		return d.domain
	case "sender":
		return d.sender
	case "malware":
		return d.malware
	case "actor":
		return d.actor
	case "cve":
		return d.cve
	case "site":
		return d.site
	case "rule":
		return d.rule
	case "port":
		return fmt.Sprint(d.port)
	case "n":
		return fmt.Sprint(d.n)
	}
	return "{" + key + "}"
}

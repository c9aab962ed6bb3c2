package tickets

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/internal/errs"
)

// templates says, per detection template, which structured fields a ticket
// must carry: the network 5-tuple's addresses, the endpoint's host, or an
// email's sender and recipient (as custom fields "from" and "to").
var templates = map[ticket.DetectionTemplate]struct {
	ips, host    bool
	customFields []string
}{
	ticket.DetectionTemplateNETWORK:  {ips: true},
	ticket.DetectionTemplateENDPOINT: {host: true},
	ticket.DetectionTemplateEMAIL:    {customFields: []string{"from", "to"}},
}

func validateDetection(field string, d *Detection) error {
	tpl, ok := templates[d.Template]
	if !ok {
		return errs.Invalid(field+".template", "unknown template %q", d.Template)
	}
	if d.FirstDetectedAt != nil && d.LastDetectedAt != nil && d.LastDetectedAt.Before(*d.FirstDetectedAt) {
		return errs.Invalid(field+".lastDetectedAt", "must not be before firstDetectedAt")
	}
	for name, ip := range map[string]*string{"sourceIP": d.SourceIP, "destinationIP": d.DestinationIP} {
		switch {
		case ip == nil && tpl.ips:
			return errs.Invalid(field+"."+name, "is required by the %s template", d.Template)
		case ip != nil:
			if _, err := netip.ParseAddr(*ip); err != nil {
				return errs.Invalid(field+"."+name, "%q is not an IP address", *ip)
			}
		}
	}
	for name, p := range map[string]*int{"sourcePort": d.SourcePort, "destinationPort": d.DestinationPort} {
		if p != nil && (*p < 0 || *p > 65535) {
			return errs.Invalid(field+"."+name, "must be between 0 and 65535")
		}
	}
	if d.Protocol != nil && (len(*d.Protocol) == 0 || len(*d.Protocol) > schematype.MaxProtocolLength) {
		return errs.Invalid(field+".protocol", "must be 1 to %d characters", schematype.MaxProtocolLength)
	}
	if tpl.host && (d.Host == nil || strings.TrimSpace(*d.Host) == "") {
		return errs.Invalid(field+".host", "is required by the %s template", d.Template)
	}
	if d.Host != nil && utf8.RuneCountInString(*d.Host) > schematype.MaxHostLength {
		return errs.Invalid(field+".host", "must be at most %d characters", schematype.MaxHostLength)
	}
	if len(d.CustomFields) > MaxCustomFields {
		return errs.Invalid(field+".customFields", "at most %d", MaxCustomFields)
	}
	keys := map[string]bool{}
	for _, f := range d.CustomFields {
		if k := strings.TrimSpace(f.Key); k == "" || utf8.RuneCountInString(k) > 64 {
			return errs.Invalid(field+".customFields", "keys must be 1 to 64 characters")
		}
		if keys[f.Key] {
			return errs.Invalid(field+".customFields", "key %q given twice", f.Key)
		}
		if utf8.RuneCountInString(f.Value) > 4096 {
			return errs.Invalid(field+".customFields", "the value of %q must be at most 4096 characters", f.Key)
		}
		keys[f.Key] = true
	}
	for _, k := range tpl.customFields {
		if !keys[k] {
			return errs.Invalid(field+".customFields", "%q is required by the %s template", k, d.Template)
		}
	}
	return nil
}

// setDetection writes d to the ticket's detection columns, clearing those d leaves out.
func setDetection(m *ent.TicketMutation, d *Detection) {
	m.SetDetectionTemplate(d.Template)
	setOrClear(utc(d.FirstDetectedAt), m.SetFirstDetectedAt, m.ClearFirstDetectedAt)
	setOrClear(utc(d.LastDetectedAt), m.SetLastDetectedAt, m.ClearLastDetectedAt)
	setOrClear(d.SourceIP, m.SetSrcIP, m.ClearSrcIP)
	setOrClear(d.DestinationIP, m.SetDstIP, m.ClearDstIP)
	setOrClear(d.SourcePort, m.SetSrcPort, m.ClearSrcPort)
	setOrClear(d.DestinationPort, m.SetDstPort, m.ClearDstPort)
	setOrClear(d.Protocol, m.SetProtocol, m.ClearProtocol)
	setOrClear(d.Host, m.SetHost, m.ClearHost)
	if len(d.CustomFields) > 0 {
		m.SetCustomFields(d.CustomFields)
	} else {
		m.ClearCustomFields()
	}
}

func setOrClear[T any](v *T, set func(T), clear func()) {
	if v != nil {
		set(*v)
	} else {
		clear()
	}
}

// utc stores times in one offset (SQLite compares them as text) and at the
// precision PostgreSQL keeps (microseconds), so that what is compared, stored
// and recorded in history is the same value on both databases.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}

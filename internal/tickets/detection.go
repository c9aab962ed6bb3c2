package tickets

import (
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"socdesk/ent"
	"socdesk/ent/schematype"
	"socdesk/internal/errs"
)

func validateDetection(field string, d *Detection) error {
	tpl, ok := TemplateOf(d.Template)
	if !ok {
		return errs.Invalid(field+".template", "unknown template %q", d.Template)
	}
	if d.FirstDetectedAt != nil && d.LastDetectedAt != nil && d.LastDetectedAt.Before(*d.FirstDetectedAt) {
		return errs.Invalid(field+".lastDetectedAt", "must not be before firstDetectedAt")
	}
	for name, ip := range map[string]*string{"sourceIP": d.SourceIP, "destinationIP": d.DestinationIP} {
		if ip != nil {
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
	given := structuredGiven(d)
	for _, f := range tpl.Fields {
		switch {
		case !f.Required:
		case f.Custom && !keys[f.Name]:
			return errs.Invalid(field+".customFields", "%q is required by the %s template", f.Name, d.Template)
		case !f.Custom && !given[f.Name]:
			return errs.Invalid(field+"."+f.Name, "is required by the %s template", d.Template)
		}
	}
	return nil
}

// structuredGiven says which of d's structured fields are given, by the
// names of DetectionInput (and of the templates' fields).
func structuredGiven(d *Detection) map[string]bool {
	return map[string]bool{
		"firstDetectedAt": d.FirstDetectedAt != nil, "lastDetectedAt": d.LastDetectedAt != nil,
		"sourceIP": d.SourceIP != nil, "destinationIP": d.DestinationIP != nil,
		"sourcePort": d.SourcePort != nil, "destinationPort": d.DestinationPort != nil,
		"protocol": d.Protocol != nil, "host": d.Host != nil && strings.TrimSpace(*d.Host) != "",
	}
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

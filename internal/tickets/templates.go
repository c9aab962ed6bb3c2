package tickets

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"socdesk/ent/ticket"
	"socdesk/internal/authz"
)

// FieldType is what a detection template's field holds: how a client
// renders and checks it, and what reputation lookups read from it (package
// reputation).
type FieldType string

// Field types.
const (
	FieldString FieldType = "STRING"
	FieldInt    FieldType = "INT"
	FieldTime   FieldType = "TIME"
	FieldIP     FieldType = "IP"
	FieldPort   FieldType = "PORT"
	FieldHost   FieldType = "HOST" // a host name or an IP address
	FieldDomain FieldType = "DOMAIN"
	FieldEmail  FieldType = "EMAIL"
	FieldURL    FieldType = "URL"
	FieldHash   FieldType = "HASH" // a file's MD5, SHA-1 or SHA-256 in hex
)

// MarshalGQL writes the type as a GraphQL enum value.
func (t FieldType) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(t))) }

// UnmarshalGQL reads a GraphQL enum value.
func (t *FieldType) UnmarshalGQL(v any) error {
	s, _ := v.(string)
	switch f := FieldType(s); f {
	case FieldString, FieldInt, FieldTime, FieldIP, FieldPort, FieldHost, FieldDomain, FieldEmail, FieldURL, FieldHash:
		*t = f
		return nil
	}
	return fmt.Errorf("%v is not a DetectionFieldType", v)
}

// TemplateField is one field of a detection template: a structured field
// of the ticket (Detection's, named as DetectionInput names it) or, when
// Custom, the key of a custom field.
type TemplateField struct {
	Name        string
	Label       string
	Type        FieldType
	Required    bool
	Custom      bool
	Description string
}

// Template is a detection template: the fields a DETECTION ticket of it
// shows, in their order, and which it must carry.
type Template struct {
	Template    ticket.DetectionTemplate
	Label       string
	Description string
	Fields      []TemplateField
}

// The structured fields templates share.
var (
	firstDetected = TemplateField{Name: "firstDetectedAt", Label: "First detected", Type: FieldTime, Description: "When the attack was first seen."}
	lastDetected  = TemplateField{Name: "lastDetectedAt", Label: "Last detected", Type: FieldTime, Description: "When it was last seen; not before the first time."}
)

// Templates are the detection templates, in the order a client offers them
// ("Apply Template"). This table is the one home of what each requires:
// the validation of DetectionInput reads it (validateDetection), the API
// serves it (detectionTemplates), and reputation lookups read their
// indicators from the fields' types.
var Templates = []Template{
	{Template: ticket.DetectionTemplateNETWORK, Label: "Network", Description: "A network event: the connection's addresses, ports and protocol.",
		Fields: []TemplateField{
			firstDetected, lastDetected,
			{Name: "sourceIP", Label: "Source IP", Type: FieldIP, Required: true, Description: "IPv4 or IPv6 address the traffic came from."},
			{Name: "sourcePort", Label: "Source port", Type: FieldPort, Description: "0 to 65535."},
			{Name: "destinationIP", Label: "Destination IP", Type: FieldIP, Required: true, Description: "IPv4 or IPv6 address the traffic went to."},
			{Name: "destinationPort", Label: "Destination port", Type: FieldPort, Description: "0 to 65535."},
			{Name: "protocol", Label: "Protocol", Type: FieldString, Description: "TCP, UDP, ICMP…"},
			{Name: "host", Label: "Host", Type: FieldHost, Description: "The host name involved, if known."},
		}},
	{Template: ticket.DetectionTemplateENDPOINT, Label: "Endpoint", Description: "An event on a host: the machine, its user, the process and file.",
		Fields: []TemplateField{
			firstDetected, lastDetected,
			{Name: "host", Label: "Host", Type: FieldHost, Required: true, Description: "The endpoint's host name or address."},
			{Name: "sourceIP", Label: "Source IP", Type: FieldIP, Description: "The endpoint's address."},
			{Name: "user", Label: "User", Type: FieldString, Custom: true, Description: "The account the event ran under."},
			{Name: "process", Label: "Process", Type: FieldString, Custom: true, Description: "The process name or command line."},
			{Name: "filePath", Label: "File path", Type: FieldString, Custom: true, Description: "The file involved."},
			{Name: "fileHash", Label: "File hash", Type: FieldHash, Custom: true, Description: "Its MD5, SHA-1 or SHA-256, in hex."},
		}},
	{Template: ticket.DetectionTemplateEMAIL, Label: "Email", Description: "A message: its sender, recipient, subject, links and attachment.",
		Fields: []TemplateField{
			firstDetected, lastDetected,
			{Name: "from", Label: "From", Type: FieldEmail, Required: true, Custom: true, Description: "The sender's address."},
			{Name: "to", Label: "To", Type: FieldEmail, Required: true, Custom: true, Description: "The recipient's address."},
			{Name: "subject", Label: "Subject", Type: FieldString, Custom: true},
			{Name: "url", Label: "Link", Type: FieldURL, Custom: true, Description: "A link the message carries."},
			{Name: "attachmentHash", Label: "Attachment hash", Type: FieldHash, Custom: true, Description: "The attachment's MD5, SHA-1 or SHA-256, in hex."},
			{Name: "sourceIP", Label: "Sending server IP", Type: FieldIP, Description: "The address of the server that sent it."},
		}},
}

// TemplateOf returns the template named t.
func TemplateOf(t ticket.DetectionTemplate) (Template, bool) {
	for _, tpl := range Templates {
		if tpl.Template == t {
			return tpl, true
		}
	}
	return Template{}, false
}

// FieldOf returns the field of the template named t that is the custom
// field key (custom) or the structured field name.
func FieldOf(t ticket.DetectionTemplate, name string, custom bool) (TemplateField, bool) {
	tpl, _ := TemplateOf(t)
	for _, f := range tpl.Fields {
		if f.Name == name && f.Custom == custom {
			return f, true
		}
	}
	return TemplateField{}, false
}

// DetectionTemplates are the templates, for viewers who may read tickets.
func DetectionTemplates(ctx context.Context) ([]*Template, error) {
	if err := authz.ReadsTickets(ctx); err != nil {
		return nil, err
	}
	out := make([]*Template, len(Templates))
	for i := range Templates {
		out[i] = &Templates[i]
	}
	return out, nil
}

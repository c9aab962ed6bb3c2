package schematype

import (
	"fmt"
	"io"
	"strconv"
)

// ExplanationStatus is where an explanation request stands (the product's
// seven statuses), shared by requests and by the ticket's list column, the
// status of its latest request.
type ExplanationStatus string

// The explanation statuses, in the product's order.
const (
	ExplanationNew            ExplanationStatus = "NEW"             // sent to the violator
	ExplanationSubmitted      ExplanationStatus = "SUBMITTED"       // the violator answered
	ExplanationReturned       ExplanationStatus = "RETURNED"        // the manager sent it back
	ExplanationClosed         ExplanationStatus = "CLOSED"          // accepted without an auditor, or withdrawn
	ExplanationAwaiting       ExplanationStatus = "AWAITING"        // accepted, awaiting the auditor
	ExplanationAuditReturned  ExplanationStatus = "AUDIT_RETURNED"  // the auditor sent it back
	ExplanationAuditCompleted ExplanationStatus = "AUDIT_COMPLETED" // the auditor completed it
)

// ExplanationStatuses lists every explanation status, in order.
var ExplanationStatuses = []ExplanationStatus{
	ExplanationNew, ExplanationSubmitted, ExplanationReturned, ExplanationClosed,
	ExplanationAwaiting, ExplanationAuditReturned, ExplanationAuditCompleted,
}

// Values lists the statuses for ent's enum.
func (ExplanationStatus) Values() []string {
	out := make([]string, len(ExplanationStatuses))
	for i, s := range ExplanationStatuses {
		out[i] = string(s)
	}
	return out
}

// MarshalGQL implements graphql.Marshaler.
func (s ExplanationStatus) MarshalGQL(w io.Writer) {
	_, _ = io.WriteString(w, strconv.Quote(string(s)))
}

// UnmarshalGQL implements graphql.Unmarshaler.
func (s *ExplanationStatus) UnmarshalGQL(v any) error {
	str, _ := v.(string)
	for _, c := range ExplanationStatuses {
		if string(c) == str {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("%v is not a valid ExplanationStatus", v)
}

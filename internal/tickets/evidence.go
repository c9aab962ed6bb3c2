package tickets

import (
	"context"
	"encoding/json"

	"socdesk/ent"
	"socdesk/ent/evidence"
	"socdesk/ent/schematype"
	"socdesk/ent/ticket"
	"socdesk/ent/ticketevent"
	"socdesk/internal/errs"
	"socdesk/internal/viewer"
)

// Bounds of evidence records.
const (
	MaxEvidencePerTicket   = 1000     // records a ticket keeps
	MaxEvidencePerCall     = 100      // records one creation or append brings
	MaxEvidenceRecordBytes = 64 << 10 // one record, as JSON
)

// validateEvidence checks records (GraphQL JSON values) given on field for
// a ticket of kind that holds had records already, and returns them as the
// JSON objects they must be.
func validateEvidence(field string, kind ticket.Kind, had int, records []any) ([]map[string]any, error) {
	if len(records) == 0 {
		return nil, nil
	}
	if kind != ticket.KindDETECTION {
		return nil, errs.Invalid(field, "evidence records are only for DETECTION tickets")
	}
	if len(records) > MaxEvidencePerCall {
		return nil, errs.Invalid(field, "at most %d records at a time, not %d", MaxEvidencePerCall, len(records))
	}
	if had+len(records) > MaxEvidencePerTicket {
		return nil, errs.Invalid(field, "a ticket keeps at most %d records; it has %d", MaxEvidencePerTicket, had)
	}
	out := make([]map[string]any, len(records))
	for i, r := range records {
		obj, ok := r.(map[string]any)
		if !ok {
			return nil, errs.Invalid(field, "record %d is not a JSON object", i)
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, errs.Invalid(field, "record %d is not valid JSON", i)
		}
		if len(b) > MaxEvidenceRecordBytes {
			return nil, errs.Invalid(field, "record %d is %d bytes as JSON, more than %d", i, len(b), MaxEvidenceRecordBytes)
		}
		out[i] = obj
	}
	return out, nil
}

// storeEvidence appends records to ticket t in tx; its history change is
// returned.
func storeEvidence(ctx context.Context, tx *ent.Tx, t *ent.Ticket, had int, records []map[string]any) (schematype.FieldChange, error) {
	bulk := make([]*ent.EvidenceCreate, len(records))
	for i, r := range records {
		bulk[i] = tx.Evidence.Create().SetTicketID(t.ID).SetRecord(r)
	}
	if err := tx.Evidence.CreateBulk(bulk...).Exec(ctx); err != nil {
		return schematype.FieldChange{}, err
	}
	return schematype.FieldChange{Field: schematype.ChangeEvidence, To: map[string]any{"count": len(records), "total": had + len(records)}}, nil
}

// AppendEvidence appends evidence records (JSON objects) to the DETECTION
// ticket ticketID, with an EVIDENCE_ADDED history entry of how many came
// and how many the ticket holds: a later detection of the same attack (the
// ingestion), or an editor. The ticket's editors may append (the
// evidence's policy); to a ticket the system created, only admins and
// socdesk itself (authz.System) may, as its records come from the
// detection. The content lock of SYSTEM detections (Update) does not apply:
// records are appended, never changed.
func (s *Service) AppendEvidence(ctx context.Context, ticketID int, records []any) (*ent.Ticket, error) {
	if len(records) == 0 {
		return nil, errs.Invalid("records", "at least one record is required")
	}
	var t *ent.Ticket
	err := s.inTx(ctx, func(ctx context.Context, tx *ent.Tx) ([]*ent.TicketEvent, error) {
		var err error
		if t, err = s.visible(ctx, tx, "ticketID", ticketID); err != nil {
			return nil, err
		}
		if v := viewer.FromContext(ctx); t.Origin == ticket.OriginSYSTEM && v != nil && !v.IsAdmin() {
			return nil, errs.New(errs.Forbidden, "only admins may add evidence to a ticket the system created")
		}
		had, err := tx.Evidence.Query().Where(evidence.TicketID(t.ID)).Count(ctx)
		if err != nil {
			return nil, err
		}
		objs, err := validateEvidence("records", t.Kind, had, records)
		if err != nil {
			return nil, err
		}
		ch, err := storeEvidence(ctx, tx, t, had, objs)
		if err != nil {
			return nil, err
		}
		return history(ctx, tx, t, ticketevent.KindEVIDENCE_ADDED, ch)
	})
	if err != nil {
		return nil, err
	}
	return t.Unwrap(), nil
}

package explanations

import (
	"context"

	"socdesk/ent"
)

// tell enqueues, in the step's transaction, the messages of action on r to
// the people concerned.
func (s *Service) tell(ctx context.Context, tx *ent.Tx, r *ent.ExplanationRequest, action Action) error {
	return nil
}

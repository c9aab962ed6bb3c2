package explanations

import (
	"slices"
	"time"

	"socdesk/ent"

	"socdesk/ent/explanationlink"
	"socdesk/ent/explanationrequest"
	"socdesk/ent/explanationstep"
	"socdesk/ent/schematype"
)

// The fields have the ent types behind the aliases Status, Action and
// Role: gqlgen binds them, and it names an alias or its type as it meets
// them first, which would make the generated code differ from run to run.

// View is a request as the holder of a personal link sees it (GraphQL
// ExplanationLinkView, and the personal page): that request only, its
// ticket by number and title, the people by name.
type View struct {
	RequestID    int `json:"-"`
	Role         explanationlink.Role
	TicketNumber int
	TicketTitle  string
	Priority     explanationrequest.Priority
	Category     string
	Message      string
	Deadline     time.Time
	Status       schematype.ExplanationStatus
	Overdue      bool
	Version      int
	ViolatorName string
	ManagerName  string
	AuditorName  *string
	Evidence     []any
	Steps        []ViewStep
	Actions      []explanationstep.Action
}

// ViewStep is one step of a View.
type ViewStep struct {
	Action     explanationstep.Action
	Role       explanationstep.Role
	FromStatus *schematype.ExplanationStatus
	ToStatus   schematype.ExplanationStatus
	By         *string
	Comment    string
	CreatedAt  time.Time
	// Attachments: an answer's files, oldest first.
	Attachments []ViewAttachment
}

// ViewAttachment is a file of an answer, downloaded from URL (under the
// personal page, authorized by its token).
type ViewAttachment struct {
	ID          int `json:"-"`
	Filename    string
	ContentType string
	Size        int64
	SHA256      string
	URL         string
}

// Oldest sorts steps oldest first.
func Oldest(steps []*ent.ExplanationStep, err error) ([]*ent.ExplanationStep, error) {
	slices.SortFunc(steps, func(a, b *ent.ExplanationStep) int { return a.ID - b.ID })
	return steps, err
}

package persisted

import (
	"context"
	"regexp"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/internal/errs"
)

// APQ is gqlgen's automatic persisted queries (extension.AutomaticPersistedQuery)
// with two bounds of socdesk's: a document is stored only once it has
// parsed and validated (a request cannot fill the store with junk that
// never runs), and only up to MaxBytes. The documents of Manifest, when
// one is given, are served by their id as if registered (pre-registered:
// nothing expires them, and a client never has to send them).
type APQ struct {
	Store    graphql.Cache[string]
	MaxBytes int
	Manifest *Manifest
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
} = APQ{}

func (APQ) ExtensionName() string { return "PersistedQueries" }

func (a APQ) Validate(graphql.ExecutableSchema) error {
	return extension.AutomaticPersistedQuery{Cache: a.Store}.Validate(nil)
}

// pendingKey holds, in the operation's stats, the document to store once
// it has validated.
const pendingKey = "socdesk.persisted.pending"

type pending struct{ hash, query string }

// MutateOperationParameters lets gqlgen's extension resolve the hash (or
// check it against the document sent with it), holding back the store.
func (a APQ) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if p.Extensions["persistedQuery"] == nil {
		return nil
	}
	if a.Manifest != nil {
		if found, err := a.Manifest.serve(idOf(p.Extensions["persistedQuery"]), p); found {
			return err
		}
	}
	if err := checkHash(p.Extensions["persistedQuery"]); err != nil {
		return err
	}
	err := extension.AutomaticPersistedQuery{Cache: deferred{a.Store}}.MutateOperationParameters(ctx, p)
	if err != nil && err.Extensions["code"] != string(errs.PersistedQueryNotFound) {
		return badInput(err.Message) // an unsupported version, a hash not the document's
	}
	return err
}

// MutateOperationContext stores the document sent with its hash, now that
// it has parsed and validated (and passed the limits, which come first).
func (a APQ) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if p, ok := oc.Stats.GetExtension(pendingKey).(pending); ok && len(p.query) <= a.MaxBytes {
		a.Store.Add(ctx, p.hash, p.query)
	}
	return nil
}

// deferred is the store as gqlgen's extension sees it: reads go through,
// writes wait in the operation's stats for MutateOperationContext.
type deferred struct{ graphql.Cache[string] }

func (d deferred) Add(ctx context.Context, hash, query string) {
	graphql.GetOperationContext(ctx).Stats.SetExtension(pendingKey, pending{hash, query})
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkHash refuses a sha256Hash that is not one (it names a Redis key).
func checkHash(ext any) *gqlerror.Error {
	m, _ := ext.(map[string]any)
	if h, _ := m["sha256Hash"].(string); !sha256Hex.MatchString(h) {
		return badInput("sha256Hash must be the document's SHA-256 in 64 lowercase hex digits")
	}
	return nil
}

func badInput(msg string) *gqlerror.Error {
	const field = "extensions.persistedQuery"
	return &gqlerror.Error{Message: field + ": " + msg,
		Extensions: map[string]any{"code": string(errs.BadUserInput), "field": field}}
}

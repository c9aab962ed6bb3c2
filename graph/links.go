package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/internal/errs"
	"socdesk/internal/explanations"
	"socdesk/internal/explanations/link"
	"socdesk/internal/viewer"
)

// linkFields are the root fields a request authorized by a personal link
// (no viewer, a link token) may ask for.
var linkFields = map[string]bool{"explanationLink": true, "answerExplanation": true, "reviewExplanation": true, "__typename": true}

// linkOnly answers every other root field of a link-authorized request
// UNAUTHENTICATED before its resolver runs: none of them has a viewer to
// act for (the data layer would deny them too; this keeps resolvers that
// assume a viewer from ever meeting none).
type linkOnly struct{}

func (linkOnly) ExtensionName() string                   { return "LinkOnly" }
func (linkOnly) Validate(graphql.ExecutableSchema) error { return nil }

func (linkOnly) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	if _, ok := link.TokenFrom(ctx); !ok || viewer.FromContext(ctx) != nil {
		return next(ctx)
	}
	fc := graphql.GetRootFieldContext(ctx)
	if fc == nil || linkFields[fc.Field.Name] {
		return next(ctx)
	}
	graphql.AddError(ctx, &gqlerror.Error{
		Message:    "a personal link opens only its explanation request (explanationLink, answerExplanation, reviewExplanation)",
		Path:       graphql.GetPath(ctx),
		Extensions: map[string]any{"code": string(errs.Unauthenticated)},
	})
	return graphql.Null
}

// answerFiles are an answer's uploads as the explanations service takes
// them.
func answerFiles(files []*graphql.Upload) []explanations.File {
	out := make([]explanations.File, len(files))
	for i, f := range files {
		out[i] = explanations.File{Content: f.File, Filename: f.Filename}
	}
	return out
}

package persisted

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/internal/errs"
)

// Manifest is a persisted-query manifest in Apollo's format
// (@apollo/generate-persisted-query-manifest writes it):
//
//	{"format": "apollo-persisted-query-manifest", "version": 1,
//	 "operations": [{"id": "…", "name": "Tickets", "type": "query", "body": "query Tickets { … }"}]}
type Manifest struct {
	byID   map[string]string
	byBody map[string]bool
}

// LoadManifest reads and checks the manifest at path.
func LoadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("persisted-query manifest: %w", err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("persisted-query manifest %s: %w", path, err)
	}
	return m, nil
}

// ParseManifest reads a manifest.
func ParseManifest(b []byte) (*Manifest, error) {
	var f struct {
		Format     string `json:"format"`
		Version    int    `json:"version"`
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if f.Format != "apollo-persisted-query-manifest" || f.Version != 1 {
		return nil, fmt.Errorf("format %q version %d: want apollo-persisted-query-manifest version 1", f.Format, f.Version)
	}
	m := &Manifest{byID: map[string]string{}, byBody: map[string]bool{}}
	for i, op := range f.Operations {
		switch {
		case op.ID == "" || op.Body == "":
			return nil, fmt.Errorf("operations[%d]: id and body are required", i)
		case m.byID[op.ID] != "" && m.byID[op.ID] != op.Body:
			return nil, fmt.Errorf("operations[%d]: id %s is given to two documents", i, op.ID)
		}
		m.byID[op.ID] = op.Body
		m.byBody[op.Body] = true
	}
	return m, nil
}

// Len is the number of documents listed.
func (m *Manifest) Len() int { return len(m.byID) }

// Listed runs only the documents of a manifest, named by their id (as
// persistedQuery.sha256Hash, what Apollo's persisted-query link sends) or
// sent in full. Nothing is registered.
type Listed struct{ Manifest *Manifest }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = Listed{}

func (Listed) ExtensionName() string                   { return "PersistedQueriesOnly" }
func (Listed) Validate(graphql.ExecutableSchema) error { return nil }

func (l Listed) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	if ext := p.Extensions["persistedQuery"]; ext != nil {
		m, _ := ext.(map[string]any)
		id, _ := m["sha256Hash"].(string)
		body, ok := l.Manifest.byID[id]
		switch {
		case id == "":
			return badInput("sha256Hash is required")
		case !ok:
			return notListed()
		case p.Query != "" && p.Query != body:
			return badInput("the document sent is not the one of this id")
		}
		p.Query = body
		return nil
	}
	if !l.Manifest.byBody[p.Query] {
		return notListed()
	}
	return nil
}

func notListed() *gqlerror.Error {
	return &gqlerror.Error{Message: "only the server's persisted queries run here, and this document is not one of them",
		Extensions: map[string]any{"code": string(errs.Forbidden)}}
}

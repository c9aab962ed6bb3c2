package persisted

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/internal/errs"
)

// Manifest is a persisted-query manifest in Apollo's format
// (@apollo/generate-persisted-query-manifest writes it):
//
//	{"format": "apollo-persisted-query-manifest", "version": 1,
//	 "operations": [{"id": "…", "name": "Tickets", "type": "query", "body": "query Tickets { … }"}]}
type Manifest struct {
	ids    []string // in the file's order
	byID   map[string]string
	byBody map[string]bool
}

// LoadManifest reads the manifest at path and checks it: its format, and
// every document against schema (a document that could never run is a
// mistake to be told at start, not a request's error later).
func LoadManifest(path string, schema *ast.Schema) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("persisted-query manifest: %w", err)
	}
	m, err := ParseManifest(b)
	if err == nil {
		err = m.Check(schema)
	}
	if err != nil {
		return nil, fmt.Errorf("persisted-query manifest %s: %w", path, err)
	}
	return m, nil
}

// Check parses and validates every document against schema, naming the
// first that fails by its id.
func (m *Manifest) Check(schema *ast.Schema) error {
	if schema == nil {
		return fmt.Errorf("no schema to check the documents against")
	}
	for _, id := range m.ids {
		if _, errs := gqlparser.LoadQuery(schema, m.byID[id]); len(errs) > 0 {
			msgs := make([]string, len(errs))
			for i, e := range errs {
				msgs[i] = e.Message
				if len(e.Locations) > 0 {
					msgs[i] = fmt.Sprintf("line %d, column %d: %s", e.Locations[0].Line, e.Locations[0].Column, e.Message)
				}
			}
			return fmt.Errorf("operation %s does not validate against the schema: %s", id, strings.Join(msgs, "; "))
		}
	}
	return nil
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
		if m.byID[op.ID] == "" {
			m.ids = append(m.ids, op.ID)
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
		id := idOf(ext)
		if id == "" {
			return badInput("sha256Hash is required")
		}
		found, err := l.Manifest.serve(id, p)
		if !found {
			return notListed()
		}
		return err
	}
	if !l.Manifest.byBody[p.Query] {
		return notListed()
	}
	return nil
}

// idOf is the document id a persistedQuery request extension names.
func idOf(ext any) string {
	m, _ := ext.(map[string]any)
	id, _ := m["sha256Hash"].(string)
	return id
}

// serve puts the document of id in p if the manifest lists it (found),
// refusing a different document sent with the id.
func (m *Manifest) serve(id string, p *graphql.RawParams) (found bool, err *gqlerror.Error) {
	body, ok := m.byID[id]
	switch {
	case !ok:
		return false, nil
	case p.Query != "" && p.Query != body:
		return true, badInput("the document sent is not the one of this id")
	}
	p.Query = body
	return true, nil
}

func notListed() *gqlerror.Error {
	return &gqlerror.Error{Message: "only the server's persisted queries run here, and this document is not one of them",
		Extensions: map[string]any{"code": string(errs.Forbidden)}}
}

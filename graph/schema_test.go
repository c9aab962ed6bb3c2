package graph_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"socdesk/internal/config"
	"socdesk/internal/devtools/testdb"
	"socdesk/internal/devtools/wstest"
)

func (e *env) getSchema(token string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/schema.graphql", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// introspectedFields is every type the server's introspection reports, with
// its fields (or input fields, or enum values), sorted.
func (e *env) introspectedFields() map[string][]string {
	e.t.Helper()
	var d struct {
		Schema struct {
			Types []struct {
				Name        string
				Fields      []struct{ Name string }
				InputFields []struct{ Name string }
				EnumValues  []struct{ Name string }
			}
		} `json:"__schema"`
	}
	e.do(e.admin, `{ __schema { types { name fields(includeDeprecated: true) { name } inputFields { name } enumValues(includeDeprecated: true) { name } } } }`, nil).ok().into(&d)
	out := map[string][]string{}
	for _, t := range d.Schema.Types {
		if strings.HasPrefix(t.Name, "__") {
			continue
		}
		names := []string{}
		for _, f := range t.Fields {
			names = append(names, f.Name)
		}
		for _, f := range t.InputFields {
			names = append(names, f.Name)
		}
		for _, f := range t.EnumValues {
			names = append(names, f.Name)
		}
		sort.Strings(names)
		out[t.Name] = names
	}
	return out
}

// builtByGraphQLJS is what graphql-js, the reference implementation that
// code generators and IDEs use, makes of an SDL document: the same shape
// as introspectedFields.
const builtByGraphQLJS = `
import { buildSchema, isObjectType, isInterfaceType, isInputObjectType, isEnumType } from 'graphql';
let sdl = '';
for await (const chunk of process.stdin) sdl += chunk;
const schema = buildSchema(sdl);
const out = {};
for (const [name, t] of Object.entries(schema.getTypeMap())) {
  if (name.startsWith('__')) continue;
  let names = [];
  if (isObjectType(t) || isInterfaceType(t) || isInputObjectType(t)) names = Object.keys(t.getFields());
  if (isEnumType(t)) names = t.getValues().map(v => v.name);
  out[name] = names.sort();
}
process.stdout.write(JSON.stringify(out));
`

// TestSchemaDownload: GET /schema.graphql gives a token holder the schema
// as SDL, without the code generator's directives, and graphql-js builds
// from it exactly the types and fields introspection reports.
func TestSchemaDownload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		if status, _ := e.getSchema(""); status != http.StatusUnauthorized {
			t.Fatalf("without a token: %d", status)
		}
		status, sdl := e.getSchema(e.admin)
		if status != http.StatusOK || !strings.Contains(sdl, "type Ticket implements Node") || !strings.Contains(sdl, "type Subscription") {
			t.Fatalf("schema: %d %.300s", status, sdl)
		}
		for _, internal := range []string{"@goModel", "@goField", "directive @go", "socdesk/ent"} {
			if strings.Contains(sdl, internal) {
				t.Errorf("the SDL shows %q", internal)
			}
		}
		if !strings.Contains(sdl, `"""`) {
			t.Error("the SDL lost the schema's descriptions")
		}
		// Introspection lists the same directives: none of the code
		// generator's, nor @defer, which nothing here delivers.
		var dirs struct {
			Schema struct{ Directives []struct{ Name string } } `json:"__schema"`
		}
		e.do(e.admin, `{ __schema { directives { name } } }`, nil).ok().into(&dirs)
		for _, d := range dirs.Schema.Directives {
			if strings.HasPrefix(d.Name, "go") || d.Name == "defer" || !strings.Contains(sdl, "@"+d.Name) && !builtinDirectives[d.Name] {
				t.Errorf("introspection lists @%s, the SDL does not", d.Name)
			}
		}

		wstest.EnsureDeps(t)
		cmd := exec.Command("node", "--input-type=module", "-e", builtByGraphQLJS)
		cmd.Dir = wstest.Dir()
		cmd.Stdin = strings.NewReader(sdl)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("graphql-js could not build the SDL: %v\n%s", err, stderr.String())
		}
		var built map[string][]string
		if err := json.Unmarshal(out, &built); err != nil {
			t.Fatal(err)
		}
		want := e.introspectedFields()
		for _, scalar := range []string{"String", "Int", "Float", "Boolean", "ID"} {
			// Built in: no SDL declares them, and graphql-js adds only those used.
			delete(want, scalar)
			delete(built, scalar)
		}
		if !equalJSON(built, want) {
			for name, fields := range want {
				if !equalJSON(built[name], fields) {
					t.Errorf("%s: SDL has %v, introspection %v", name, built[name], fields)
				}
			}
			for name := range built {
				if _, ok := want[name]; !ok {
					t.Errorf("%s: in the SDL only", name)
				}
			}
		}
	})
}

// TestIntrospectionOff: with SOCDESK_INTROSPECTION=false, introspection
// queries are refused and the SDL is not served (404, token or not);
// __typename, which clients such as Apollo add to every selection, works.
func TestIntrospectionOff(t *testing.T) {
	cfg := config.Default()
	cfg.Introspection = false
	e := newEnvWith(t, testdb.Backends[0], cfg)
	for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "Ticket") { name } }`,
		`query { viewer { login } ...F } fragment F on Query { __schema { queryType { name } } }`} {
		// A request error: refused before anything runs, no data at all,
		// FORBIDDEN (not an INTERNAL error per field, logged as a fault).
		r := e.do(e.admin, q, nil)
		if r.Status != http.StatusForbidden && r.Status != http.StatusBadRequest || r.Data != nil || r.code() != "FORBIDDEN" {
			t.Errorf("%s: %d %s %+v", q, r.Status, r.Data, r.Errors)
		}
	}
	if logs := e.logs.String(); strings.Contains(logs, "internal error") {
		t.Errorf("introspection refused as an internal error:\n%s", logs)
	}
	var d struct {
		Typename string `json:"__typename"`
		Viewer   struct{ Login string }
	}
	e.do(e.admin, `{ __typename viewer { login } }`, nil).ok().into(&d)
	if d.Typename != "Query" || d.Viewer.Login != "admin" {
		t.Fatalf("__typename: %+v", d)
	}
	for _, tok := range []string{"", e.admin} {
		if status, _ := e.getSchema(tok); status != http.StatusNotFound {
			t.Fatalf("/schema.graphql with introspection off (token %v): %d", tok != "", status)
		}
	}
	// On by default.
	on := newEnv(t, testdb.Backends[0])
	if r := on.do(on.admin, `{ __type(name: "Ticket") { name } }`, nil).ok(); !strings.Contains(string(r.Data), "Ticket") {
		t.Fatalf("introspection by default: %s", r.Data)
	}
}

// builtinDirectives are the spec's own, which an SDL need not declare.
var builtinDirectives = map[string]bool{"include": true, "skip": true, "deprecated": true, "specifiedBy": true, "oneOf": true}

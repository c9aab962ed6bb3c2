package graph

import (
	"bytes"
	"sync"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"

	"socdesk/graph/generated"
)

// codegenDirectives are gqlgen's (entgql writes them too): they tell the
// code generator which Go types to bind and mean nothing to a client.
var codegenDirectives = map[string]bool{
	"goModel": true, "goField": true, "goTag": true, "goExtraField": true, "goEnum": true,
}

// SDL is the public schema in the GraphQL schema definition language, as
// GET /schema.graphql serves it: every type with its descriptions, without
// the code generator's directives. It is built once (the schema is fixed
// at build time) and shared: callers must not modify it.
func SDL() []byte { return sdl() }

var sdl = sync.OnceValue(buildSDL)

func buildSDL() []byte {
	var full bytes.Buffer
	formatter.NewFormatter(&full).FormatSchema(generated.NewExecutableSchema(generated.Config{}).Schema())
	// Strip a copy, parsed again, so the executable schema stays untouched.
	doc, err := parser.ParseSchema(&ast.Source{Name: "schema.graphql", Input: full.String()})
	if err != nil {
		panic("graph: the formatted schema does not parse: " + err.Error()) // a gqlparser bug
	}
	keep := func(list ast.DirectiveList) ast.DirectiveList {
		var out ast.DirectiveList
		for _, d := range list {
			if !codegenDirectives[d.Name] {
				out = append(out, d)
			}
		}
		return out
	}
	var directives ast.DirectiveDefinitionList
	for _, d := range doc.Directives {
		if !codegenDirectives[d.Name] {
			directives = append(directives, d)
		}
	}
	doc.Directives = directives
	for _, def := range doc.Definitions {
		def.Directives = keep(def.Directives)
		for _, f := range def.Fields {
			f.Directives = keep(f.Directives)
			for _, a := range f.Arguments {
				a.Directives = keep(a.Directives)
			}
		}
		for _, v := range def.EnumValues {
			v.Directives = keep(v.Directives)
		}
	}
	var out bytes.Buffer
	formatter.NewFormatter(&out).FormatSchemaDocument(doc)
	return out.Bytes()
}

// Package limits is a gqlgen handler extension that rejects over-expensive
// operations before any resolver runs: unbounded or oversized connection
// pages, too high a computed cost, too deep a selection.
package limits

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/internal/errs"
)

// codeBadUserInput is the extensions.code of every error this package returns.
var codeBadUserInput = string(errs.BadUserInput)

// It is a request error (errs.RequestErrors): gqlgen's transports answer a
// rejected operation with a 4xx status instead of 200 (see the package test).

// Limits bounds every operation before it executes.
//
// Cost: every field costs 1, and the cost of the selection under a connection
// field is multiplied by its page size (first/last), summed over the whole
// operation. Fields whose name starts with "__" (introspection, __typename)
// and everything below them count for neither cost nor depth, so GraphiQL's
// introspection query passes.
type Limits struct {
	MaxDepth    int // deepest field nesting allowed; the top-level field is depth 1
	MaxCost     int // largest computed cost allowed
	MaxPageSize int // largest `first`/`last` on a connection (e.g. 100, GitHub's rule)
	// CountCost is the cost of a connection's totalCount, which counts every
	// matching row whatever the page size (0: 1, like any field).
	CountCost int
	// ListSize is what a plain list of objects (Ticket.assignees,
	// categories) multiplies its selection by, for want of a page size
	// (0: 1). nodes(ids:) multiplies by the number of ids instead.
	ListSize int
	// MaxRootFields bounds the top-level fields (aliases included) of an
	// operation; each costs at least one database round trip (0: no bound).
	MaxRootFields int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = Limits{}

// ExtensionName implements graphql.HandlerExtension.
func (Limits) ExtensionName() string { return "Limits" }

// Validate implements graphql.HandlerExtension. It runs once, at handler.Use,
// so a connection field that could never satisfy the page rule fails at
// startup rather than on every request.
func (l Limits) Validate(es graphql.ExecutableSchema) error {
	if l.MaxDepth < 0 || l.MaxCost < 0 || l.MaxPageSize < 0 {
		return errors.New("limits: MaxDepth, MaxCost and MaxPageSize must not be negative")
	}
	if l.MaxPageSize == 0 || es == nil {
		return nil
	}
	schema := es.Schema()
	if schema == nil {
		return nil
	}
	var bad []string
	for _, def := range schema.Types {
		if def.Kind != ast.Object && def.Kind != ast.Interface {
			continue
		}
		for _, f := range def.Fields {
			if isConnection(f) && f.Arguments.ForName("first") == nil && f.Arguments.ForName("last") == nil {
				bad = append(bad, def.Name+"."+f.Name)
			}
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("limits: connection fields without a first or last argument can never pass: %s",
			strings.Join(bad, ", "))
	}
	return nil
}

// Measure is what the walk found of an operation: its cost as defined on
// Limits, its depth and its top-level fields. It is computed once, here,
// and read by whatever else charges for an operation (rate budgets).
type Measure struct {
	Cost, Depth, RootFields int
}

// statsKey is where MutateOperationContext leaves the Measure.
const statsKey = "Limits"

// MeasureOf returns the Measure of an operation that passed Limits; false
// when none was taken (Limits is not installed, or the operation failed).
func MeasureOf(rc *graphql.OperationContext) (Measure, bool) {
	if rc == nil {
		return Measure{}, false
	}
	m, ok := rc.Stats.GetExtension(statsKey).(Measure)
	return m, ok
}

// MutateOperationContext implements graphql.OperationContextMutator: it walks
// the operation once, returns the first rule it breaks, and otherwise leaves
// the operation's Measure for MeasureOf. The walk runs even with every rule
// disabled, because rate budgets charge the cost.
func (l Limits) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc == nil || rc.Operation == nil {
		return nil
	}
	roots := countRoot(rc.Operation.SelectionSet, rc.Doc, rc.Variables, 0)
	if l.MaxRootFields > 0 && roots > l.MaxRootFields {
		return limitError(rc.Operation.Position, roots, l.MaxRootFields,
			"%d top-level fields exceed the limit of %d", roots, l.MaxRootFields)
	}
	w := walker{l: l, doc: rc.Doc, vars: rc.Variables}
	w.path = w.pathBuf[:0]
	cost, depth, err := w.selectionSet(rc.Operation.SelectionSet, 1)
	if err != nil {
		return err
	}
	if l.MaxDepth > 0 && depth > l.MaxDepth {
		return limitError(rc.Operation.Position, depth, l.MaxDepth,
			"operation depth %d exceeds the limit of %d", depth, l.MaxDepth)
	}
	if l.MaxCost > 0 && cost > l.MaxCost {
		return limitError(rc.Operation.Position, cost, l.MaxCost,
			"operation cost %d exceeds the limit of %d", cost, l.MaxCost)
	}
	rc.Stats.SetExtension(statsKey, Measure{Cost: cost, Depth: depth, RootFields: roots})
	return nil
}

// walker holds the state of one walk over an operation.
type walker struct {
	l    Limits
	doc  *ast.QueryDocument
	vars map[string]any
	// Response keys of the fields being walked; read only to name a field in
	// an error, so no string is built unless the operation is rejected.
	path    []string
	pathBuf [16]string // backs path for all but very deep operations
	// Cost and depth of each fragment already walked. They depend only on the
	// fragment and the operation's variables, so each fragment is walked once
	// however often it is spread: the walk stays linear in the document's
	// size, where naive expansion is exponential. An entry with done unset
	// is a fragment being walked, so meeting it again is a cycle.
	frags map[fragKey]fragResult
}

// fragKey is a fragment walked under a page size: inside a connection its
// edges cost differ.
type fragKey struct {
	def  *ast.FragmentDefinition
	page int
}

type fragResult struct {
	cost, depth int
	done        bool
}

// selectionSet returns the cost of set and the depth of its deepest field,
// counting set's own fields as depth 1. In a connection's selection, page is
// its page size: what its edges (or nodes) are multiplied by, while its
// totalCount and pageInfo are computed once.
func (w *walker) selectionSet(set ast.SelectionSet, page int) (cost, depth int, err *gqlerror.Error) {
	for _, sel := range set {
		var c, d int
		switch sel := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(sel.Name, "__") || skipped(sel.Directives, w.vars) {
				continue
			}
			c, d, err = w.field(sel)
			if sel.Name == "edges" || sel.Name == "nodes" {
				c = mulSat(page, c)
			}
		case *ast.InlineFragment:
			if skipped(sel.Directives, w.vars) {
				continue
			}
			c, d, err = w.selectionSet(sel.SelectionSet, page)
		case *ast.FragmentSpread:
			if skipped(sel.Directives, w.vars) {
				continue
			}
			c, d, err = w.spread(sel, page)
		}
		if err != nil {
			return 0, 0, err
		}
		cost = addSat(cost, c)
		depth = max(depth, d)
	}
	return cost, depth, nil
}

func (w *walker) field(f *ast.Field) (cost, depth int, err *gqlerror.Error) {
	w.path = append(w.path, f.Alias)
	mult, own := 1, 1
	switch {
	case f.Definition == nil:
	case isConnection(f.Definition):
		if mult, err = w.pageSize(f); err != nil {
			return 0, 0, err
		}
		mult = max(mult, 1) // an empty page still costs its query
	case f.Name == "totalCount" && inConnection(f):
		own = max(w.l.CountCost, 1)
	case f.Definition.Type.Elem != nil && len(f.SelectionSet) > 0 && !inConnection(f): // a list of objects
		mult = max(w.l.ListSize, 1)
		if args, ok := argumentMap(f, w.vars); ok {
			if ids, isList := args["ids"].([]any); isList {
				mult = max(len(ids), 1)
			}
		}
	}
	page := 1
	if f.Definition != nil && isConnection(f.Definition) {
		page, mult = mult, 1 // applied to the edges alone
	}
	cost, depth, err = w.selectionSet(f.SelectionSet, page)
	if err != nil {
		return 0, 0, err
	}
	w.path = w.path[:len(w.path)-1]
	return addSat(own, mulSat(mult, cost)), depth + 1, nil
}

// inConnection reports whether f is a field of a connection type (its edges
// list is already multiplied by the page size).
func inConnection(f *ast.Field) bool {
	return f.ObjectDefinition != nil && strings.HasSuffix(f.ObjectDefinition.Name, "Connection")
}

// countRoot counts the top-level fields of set, through fragments.
func countRoot(set ast.SelectionSet, doc *ast.QueryDocument, vars map[string]any, depth int) int {
	if depth > 10 { // fragment cycles are validation's to report
		return 0
	}
	n := 0
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if !strings.HasPrefix(sel.Name, "__") && !skipped(sel.Directives, vars) {
				n++
			}
		case *ast.InlineFragment:
			if !skipped(sel.Directives, vars) {
				n += countRoot(sel.SelectionSet, doc, vars, depth+1)
			}
		case *ast.FragmentSpread:
			def := sel.Definition
			if def == nil && doc != nil {
				def = doc.Fragments.ForName(sel.Name)
			}
			if def != nil && !skipped(sel.Directives, vars) {
				n += countRoot(def.SelectionSet, doc, vars, depth+1)
			}
		}
	}
	return n
}

// pageSize checks the first/last of connection field f and returns the page
// size its selection is multiplied by.
func (w *walker) pageSize(f *ast.Field) (int, *gqlerror.Error) {
	args, ok := argumentMap(f, w.vars)
	if !ok {
		if w.l.MaxPageSize > 0 {
			return 0, w.pageError(f, "first", fmt.Sprintf("%q and %q must be integers between 0 and %d", "first", "last", w.l.MaxPageSize))
		}
		return 1, nil
	}
	first, hasFirst := args["first"]
	last, hasLast := args["last"]
	// A null argument is as good as a missing one: the page is unbounded.
	hasFirst = hasFirst && first != nil
	hasLast = hasLast && last != nil

	size := -1
	for _, a := range [...]struct {
		name  string
		value any
		given bool
	}{{"first", first, hasFirst}, {"last", last, hasLast}} {
		if !a.given {
			continue
		}
		n, isInt := toInt(a.value)
		if !isInt || n < 0 || (w.l.MaxPageSize > 0 && n > int64(w.l.MaxPageSize)) {
			if w.l.MaxPageSize > 0 {
				return 0, w.pageError(f, a.name, fmt.Sprintf("%q must be between 0 and %d", a.name, w.l.MaxPageSize))
			}
			continue // rule disabled: ignore a value we cannot use
		}
		// Both given (ent rejects that anyway): take the larger, to overestimate.
		size = max(size, int(min(n, math.MaxInt)))
	}
	if size >= 0 {
		return size, nil
	}
	if w.l.MaxPageSize > 0 {
		return 0, w.pageError(f, "first", fmt.Sprintf("%q or %q is required (at most %d)", "first", "last", w.l.MaxPageSize))
	}
	// Rule disabled and no usable page size: nothing to multiply by.
	return 1, nil
}

func (w *walker) spread(s *ast.FragmentSpread, page int) (cost, depth int, err *gqlerror.Error) {
	def := s.Definition
	if def == nil && w.doc != nil { // not validated: look it up by name
		def = w.doc.Fragments.ForName(s.Name)
	}
	if def == nil {
		return 0, 0, nil // unknown fragment: validation reports it, nothing runs
	}
	key := fragKey{def, page}
	if r, seen := w.frags[key]; seen {
		if !r.done {
			return 0, 0, &gqlerror.Error{
				Message:    fmt.Sprintf("fragment %q spreads itself", def.Name),
				Locations:  locations(s.Position),
				Extensions: map[string]any{"code": codeBadUserInput},
			}
		}
		return r.cost, r.depth, nil
	}
	if w.frags == nil {
		w.frags = make(map[fragKey]fragResult)
	}
	w.frags[key] = fragResult{}
	if cost, depth, err = w.selectionSet(def.SelectionSet, page); err != nil {
		return 0, 0, err
	}
	w.frags[key] = fragResult{cost: cost, depth: depth, done: true}
	return cost, depth, nil
}

func (w *walker) pageError(f *ast.Field, arg, msg string) *gqlerror.Error {
	path := strings.Join(w.path, ".")
	return &gqlerror.Error{
		Message:   path + ": " + msg,
		Locations: locations(f.Position),
		Extensions: map[string]any{
			"code":     codeBadUserInput,
			"field":    path,
			"argument": arg,
		},
	}
}

func limitError(pos *ast.Position, actual, limit int, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{
		Message:   fmt.Sprintf(format, args...),
		Locations: locations(pos),
		Extensions: map[string]any{
			"code":   codeBadUserInput,
			"limit":  limit,
			"actual": actual,
		},
	}
}

// locations is built by hand rather than with gqlerror.ErrorPosf, which would
// add the source file name to the extensions.
func locations(pos *ast.Position) []gqlerror.Location {
	if pos == nil {
		return nil
	}
	return []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
}

// isConnection reports whether f returns a Relay connection, by the naming
// convention entgql follows (TicketConnection, UserConnection, ...).
func isConnection(f *ast.FieldDefinition) bool {
	return f.Type != nil && strings.HasSuffix(f.Type.Name(), "Connection")
}

// argumentMap is f.ArgumentMap, which panics on a literal it cannot convert;
// validation rules that out, but a panic here would take down the request.
func argumentMap(f *ast.Field, vars map[string]any) (args map[string]any, ok bool) {
	defer func() {
		if recover() != nil {
			args, ok = nil, false
		}
	}()
	return f.ArgumentMap(vars), true
}

// skipped reports whether @skip or @include leave the selection out, as
// gqlgen's executor does: a field that will not run costs nothing.
func skipped(dirs ast.DirectiveList, vars map[string]any) bool {
	for _, d := range dirs {
		if d.Name != "skip" && d.Name != "include" {
			continue
		}
		arg := d.Arguments.ForName("if")
		if arg == nil {
			continue
		}
		v, err := arg.Value.Value(vars)
		b, isBool := v.(bool)
		if err != nil || !isBool {
			continue
		}
		if b == (d.Name == "skip") {
			return true
		}
	}
	return false
}

// toInt accepts every representation an Int can have in rc.Variables after
// gqlparser's coercion (int*, whole floats, numeric strings, json.Number)
// and in a literal (int64).
func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > math.MaxInt64 {
			return 0, false
		}
		return int64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return 0, false
		}
		return int64(f), true
	}
	return 0, false
}

// addSat and mulSat saturate at math.MaxInt: nested connections multiply, and
// an overflow must not wrap round to a cost that passes. Both take n >= 0.
func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func mulSat(a, b int) int {
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

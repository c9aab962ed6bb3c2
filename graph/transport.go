package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/internal/errs"
)

// The GraphQL-over-HTTP transports, GET and POST, in place of gqlgen's:
// they read the request the same way but tell a malformed one in a short
// message naming the field at fault (gqlgen's echo the whole body and name
// Go types: "cannot unmarshal number into Go struct field
// RawParams.query"), and, under application/graphql-response+json, answer
// a request that fails before execution (parse, validation, limits) with no
// `data` entry at all, as the spec says (gqlgen's always write
// "data": null). Under application/json such a request is answered 200, the
// only way that media type has to say it.

// httpPost serves POST requests with a JSON body.
type httpPost struct{}

func (httpPost) Supports(r *http.Request) bool {
	if r.Header.Get("Upgrade") != "" || r.Method != http.MethodPost {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == errs.MediaJSON
}

func (httpPost) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMedia(w, r)
	start := graphql.Now()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		status, e := http.StatusBadRequest, errs.New(errs.BadUserInput, "the request body could not be read")
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			status, e = http.StatusRequestEntityTooLarge, errs.New(errs.BadUserInput, "request body too large")
		}
		refuse(w, r.Context(), exec, media, status, e)
		return
	}
	params := &graphql.RawParams{Headers: r.Header}
	if e := decodeBody(body, params); e != nil {
		refuse(w, r.Context(), exec, media, http.StatusBadRequest, e)
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	run(w, r.Context(), exec, media, params, false)
}

// httpGet serves queries in the URL.
type httpGet struct{}

func (httpGet) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && r.Method == http.MethodGet
}

func (httpGet) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMedia(w, r)
	start := graphql.Now()
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		refuse(w, r.Context(), exec, media, http.StatusBadRequest, errs.New(errs.BadUserInput, "the URL's query string is malformed"))
		return
	}
	params := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName"), Headers: r.Header}
	for _, p := range []struct {
		name string
		into *map[string]any
	}{{"variables", &params.Variables}, {"extensions", &params.Extensions}} {
		if v := q.Get(p.name); v != "" {
			if decodeObject(v, p.into) != nil {
				refuse(w, r.Context(), exec, media, http.StatusBadRequest, errs.Invalid(p.name, "must be a JSON object"))
				return
			}
		}
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	run(w, r.Context(), exec, media, params, true)
}

// run executes a request read by a transport; over GET only a query.
func run(w http.ResponseWriter, ctx context.Context, exec graphql.GraphExecutor, media string, params *graphql.RawParams, get bool) {
	rc, opErr := exec.CreateOperationContext(ctx, params)
	if opErr != nil {
		status := http.StatusOK
		if media == errs.MediaGraphQLResponse && errcode.GetErrorKind(opErr) == errcode.KindProtocol {
			status = http.StatusBadRequest
		}
		writeResponse(w, media, status, exec.DispatchError(graphql.WithOperationContext(ctx, rc), opErr))
		return
	}
	if get && rc.Operation != nil && rc.Operation.Operation != ast.Query {
		w.Header().Set("Allow", http.MethodPost)
		refuse(w, ctx, exec, media, http.StatusMethodNotAllowed, errs.New(errs.BadUserInput, "only queries may be sent with GET: POST a %s", rc.Operation.Operation))
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeResponse(w, media, http.StatusOK, responses(ctx))
}

// refuse answers a request that could not be read, with e through the
// error presenter.
func refuse(w http.ResponseWriter, ctx context.Context, exec graphql.GraphExecutor, media string, status int, e *errs.Error) {
	resp := exec.DispatchError(ctx, gqlerror.List{{Message: e.Error(), Err: e}})
	writeResponse(w, media, status, resp)
}

// writeResponse writes resp; a response refused before execution (status
// 4xx) has no data entry under application/graphql-response+json.
func writeResponse(w http.ResponseWriter, media string, status int, resp *graphql.Response) {
	var v any = resp
	if media == errs.MediaGraphQLResponse && status >= 400 && resp.Data == nil {
		v = struct {
			Errors     gqlerror.List  `json:"errors"`
			Extensions map[string]any `json:"extensions,omitempty"`
		}{resp.Errors, resp.Extensions}
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, status = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`), http.StatusInternalServerError
	}
	if status != http.StatusOK {
		w.WriteHeader(status)
	}
	_, _ = w.Write(b)
}

// responseMedia sets the answer's media type, negotiated as every answer
// of socdesk's is (errs.ResponseMediaType), and returns it.
func responseMedia(w http.ResponseWriter, r *http.Request) string {
	media := errs.ResponseMediaType(r)
	w.Header().Set("Content-Type", media)
	w.Header().Add("Vary", "Accept")
	return media
}

// bodyFields are the members of a request body, with the JSON type each
// must have.
var bodyFields = map[string]string{
	"query":         "a string",
	"operationName": "a string",
	"variables":     "a JSON object",
	"extensions":    "a JSON object",
}

// decodeBody reads a POST body into p, or says plainly what is wrong with
// it, naming the member at fault, without quoting it.
func decodeBody(body []byte, p *graphql.RawParams) *errs.Error {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return errs.New(errs.BadUserInput, "the request body is empty: send a JSON object with a query")
	case trimmed[0] == '[':
		return errs.New(errs.BadUserInput, "the request body must be one JSON object: batched requests are not supported")
	case trimmed[0] != '{' && json.Valid(trimmed):
		return errs.New(errs.BadUserInput, "the request body must be a JSON object with a query")
	case trimmed[0] != '{':
		return errs.New(errs.BadUserInput, "the request body is not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber() // variables keep their numbers' precision, as gqlgen's own decoding does
	err := dec.Decode(p)
	var (
		syntax   *json.SyntaxError
		typeErr  *json.UnmarshalTypeError
		trailing bool
	)
	if err == nil {
		_, err = dec.Token()
		trailing = err != io.EOF
		err = nil
	}
	switch {
	case errors.As(err, &typeErr):
		field, _, _ := strings.Cut(typeErr.Field, ".")
		if want, ok := bodyFields[field]; ok {
			return errs.Invalid(field, "must be %s, not %s", want, jsonKind(typeErr.Value))
		}
		return errs.New(errs.BadUserInput, "the request body is not a GraphQL request")
	case errors.As(err, &syntax):
		return errs.New(errs.BadUserInput, "the request body is not valid JSON (at byte %d)", syntax.Offset)
	case err != nil:
		return errs.New(errs.BadUserInput, "the request body is not valid JSON (it ends early)")
	case trailing:
		return errs.New(errs.BadUserInput, "the request body has more after its JSON object: send one object")
	}
	return nil
}

// decodeObject decodes a JSON object (a GET request's variables or
// extensions).
func decodeObject(s string, into *map[string]any) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(into); err != nil {
		return err
	}
	if *into == nil {
		return nil // null: none
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more after the object")
	}
	return nil
}

// jsonKind names a JSON value's type as encoding/json reports it.
func jsonKind(v string) string {
	switch v {
	case "number", "string":
		return "a " + v
	case "array", "object":
		return "an " + v
	case "bool":
		return "a boolean"
	}
	if strings.HasPrefix(v, "number") {
		return "a number"
	}
	return v
}

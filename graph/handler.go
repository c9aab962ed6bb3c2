package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
	"unicode"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/lib/pq"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"socdesk/ent"
	"socdesk/ent/privacy"
	"socdesk/graph/limits"
	"socdesk/internal/attachments"
	"socdesk/internal/auth"
	"socdesk/internal/errs"
	"socdesk/internal/live"
	"socdesk/internal/ratelimit"
	"socdesk/internal/reqlog"
	"socdesk/internal/viewer"
	"socdesk/internal/wsguard"
)

// Options configure the GraphQL handler.
type Options struct {
	Resolver *Resolver
	Logger   *slog.Logger
	// Limits every operation must stay within (see package limits).
	Limits limits.Limits
	// MaxTokens bounds the lexical tokens of a query document; 0 disables.
	MaxTokens int
	// Live serves subscriptions over WebSocket; nil serves none.
	Live *LiveOptions
	// Persisted serves persisted queries (see package persisted); nil: none.
	Persisted graphql.HandlerExtension
	// Budgets, if set, charge every operation (its Limits cost) to its
	// viewer's rate budget (see package ratelimit).
	Budgets *ratelimit.Budgets
	// NoIntrospection refuses introspection queries (__schema, __type).
	NoIntrospection bool
	// Uploads, if set, serves multipart requests (the GraphQL multipart
	// request spec, see upload.go), their files staged through it.
	Uploads *attachments.Service
	// Extensions observe every operation (metrics, tracing); they run
	// outside the others, so they see what those refuse or add (the error
	// ending a live stream early).
	Extensions []graphql.HandlerExtension
}

// LiveOptions configure subscriptions over WebSocket.
type LiveOptions struct {
	// Authenticate turns the token of connection_init's payload into a
	// viewer; auth.ErrUnauthenticated closes the connection with 4403.
	Authenticate func(ctx context.Context, token string) (*viewer.Viewer, error)
	// Origins are the Origin values allowed besides the server's own; "*"
	// allows any. Requests without an Origin (not browsers) are allowed.
	Origins []string
	// InitTimeout is how long a client has to send connection_init (4408).
	InitTimeout time.Duration
	// KeepAlive is the interval of the server's pings.
	KeepAlive time.Duration
	// WriteTimeout disconnects a client that does not read for that long.
	WriteTimeout time.Duration
	// MaxOperations bounds the subscriptions of one connection.
	MaxOperations int
	// Sessions, if set, checks connections' tokens again over time.
	Sessions *live.Sessions
	// Open, if set, holds the open connections (closed with 1001 on shutdown).
	Open *wsguard.Conns
}

// NewHandler returns the /graphql handler: GET (queries only) and POST
// following the GraphQL-over-HTTP spec, with limits checked before execution
// and errors mapped to socdesk's codes in one presenter.
func NewHandler(o Options) http.Handler {
	srv := handler.New(executableSchema(o.Resolver))
	for _, x := range o.Extensions { // the outermost: they see what the others add or refuse
		srv.Use(x)
	}
	if o.Live != nil {
		srv.AddTransport(websocketTransport(*o.Live, o.Logger)) // before GET: an upgrade is a GET
		srv.Use(live.EndError{})
	}
	srv.AddTransport(httpGet{})
	srv.AddTransport(httpPost{})
	if o.Uploads != nil {
		up := multipartUpload{s: o.Uploads}
		if o.Resolver != nil && o.Resolver.Explanations != nil {
			up.links = o.Resolver.Explanations
		}
		srv.AddTransport(up)
	}
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(o.MaxTokens)
	srv.SetValidationRulesFn(validationRules)
	srv.Use(logOperation{}) // before the checks: a refused operation's log line names it too
	if o.NoIntrospection {
		srv.Use(noIntrospection{})
	} else {
		srv.Use(extension.Introspection{})
	}
	srv.Use(o.Limits)
	srv.Use(NoNUL{})
	srv.Use(CheckCursors{})
	srv.Use(noHTTPSubscriptions{})
	srv.Use(linkOnly{})
	if o.Budgets != nil {
		// After every check that refuses a document: only what will run is
		// charged.
		srv.Use(ratelimit.Extension{Budgets: o.Budgets})
	}
	if o.Persisted != nil {
		// Last: a document is registered once it passed the limits and its
		// budget (the allow-list refuses earlier, from the parameters).
		srv.Use(o.Persisted)
	}
	srv.SetErrorPresenter(Presenter(o.Logger))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		reqlog.From(ctx, o.Logger).Error("panic", "panic", p, "stack", string(debug.Stack()))
		return errs.New(errs.Internal, "internal error")
	})
	return overHTTP(srv, o.Uploads != nil)
}

// websocketTransport serves subscriptions over graphql-transport-ws and
// subscriptions-transport-ws, authenticated in connection_init.
func websocketTransport(o LiveOptions, log *slog.Logger) transport.Websocket {
	return transport.Websocket{
		Implementation: wsguard.Guard{
			CheckOrigin:   checkOrigin(o.Origins),
			InitTimeout:   o.InitTimeout,
			MaxOperations: o.MaxOperations,
			ReadLimit:     64 << 10,
			WriteTimeout:  o.WriteTimeout,
			Open:          o.Open,
		},
		InitTimeout:           o.InitTimeout + time.Second, // the guard's 4408 comes first
		KeepAlivePingInterval: o.KeepAlive,                 // "ka" of subscriptions-transport-ws
		PingPongInterval:      o.KeepAlive,                 // ping of graphql-transport-ws; no pong in twice that closes
		InitFunc: func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			tok, _ := p["token"].(string)
			if tok == "" {
				tok, _ = auth.BearerToken(p.Authorization())
			}
			if tok == "" { // a non-browser client may have sent it with the upgrade
				tok, _ = auth.BearerToken(live.UpgradeAuthorization(ctx))
			}
			v, err := o.Authenticate(ctx, tok)
			if err != nil {
				if !errors.Is(err, auth.ErrUnauthenticated) {
					reqlog.From(ctx, log).Error("authenticating a websocket", "err", err)
					return transport.WithWebsocketCloseCode(ctx, websocket.CloseInternalServerErr), nil, errors.New("internal error")
				}
				return transport.WithWebsocketCloseCode(ctx, wsguard.CloseForbidden), nil, errors.New("Forbidden: missing or invalid API token")
			}
			if o.Sessions != nil {
				ctx = o.Sessions.Track(ctx, tok, v)
			}
			return viewer.NewContext(ctx, v), nil, nil
		},
	}
}

// checkOrigin allows same-origin upgrades, those without an Origin header
// (not from a browser), and the configured origins.
func checkOrigin(allowed []string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		if u, err := url.Parse(origin); err == nil && strings.EqualFold(u.Host, r.Host) {
			return true
		}
		for _, a := range allowed {
			if a == "*" || strings.EqualFold(strings.TrimRight(a, "/"), origin) {
				return true
			}
		}
		return false
	}
}

// overHTTP holds requests to the GraphQL-over-HTTP spec before a transport
// reads them: only GET and POST (405 with Allow otherwise), POST bodies of
// JSON or GraphQL media types only (415), or multipart ones when uploads
// are served. The transports (transport.go, upload.go) do the rest.
func overHTTP(next http.Handler, uploads bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wsguard.IsUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
		case http.MethodPost:
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if mt != "application/json" && mt != "application/graphql" && mt != "application/graphql-response+json" &&
				(!uploads || mt != "multipart/form-data") {
				writeError(w, r, http.StatusUnsupportedMediaType, "a POST body must be application/json")
				return
			}
		default:
			w.Header().Set("Allow", "GET, POST")
			writeError(w, r, http.StatusMethodNotAllowed, "use GET for queries and POST for anything")
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), plainHTTPKey{}, true))
		w, r = ratelimit.Headers(w, r)
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	errs.WriteHTTP(w, r, status, errs.New(errs.BadUserInput, "%s", msg))
}

// Presenter maps every error to socdesk's vocabulary (extensions.code, and
// extensions.field for bad input). Internal errors are logged once, with the
// request id, and shown as "internal error".
func Presenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var inner *gqlerror.Error
		if errors.As(err, &inner) && inner.Err == nil {
			// gqlgen's and entgql's own errors are about the request itself:
			// parse and validation failures are bad input in our vocabulary.
			if gqlErr.Extensions == nil {
				gqlErr.Extensions = map[string]any{}
			}
			switch gqlErr.Extensions["code"] {
			case nil, errcode.ParseFailed, errcode.ValidationFailed:
				gqlErr.Extensions["code"] = string(errs.BadUserInput)
			case string(errs.NotFound):
				gqlErr.Message = "no node with this id" // entgql's names the raw id
			}
			return gqlErr
		}
		e := classify(err)
		if ce := (*ent.ConstraintError)(nil); errors.As(err, &ce) && isForeignKey(ce) && !deleting(ctx) {
			// Writing a reference to a row that does not exist is bad input;
			// deleting a row still referenced is the CONFLICT classify says.
			e = errs.Invalid(foreignKeyField(ce), "refers to a record that does not exist")
		}
		if field, ok := argumentError(ctx, gqlErr.Path); ok {
			switch {
			case e.Code == errs.Internal: // a scalar's own decoding error, a cursor's say
				e = errs.Invalid(field, "%s", strings.TrimPrefix(err.Error(), gqlErr.Path.String()+": "))
			case e.Code == errs.BadUserInput && e.Field == "":
				e = &errs.Error{Code: e.Code, Field: field, Message: e.Message}
			}
		}
		if e.Code == errs.Internal && reqlog.ClientGone(ctx) {
			e = &errs.Error{Code: errs.Cancelled, Message: "request cancelled", Err: err}
			reqlog.From(ctx, log).Debug("client went away", "err", reqlog.Cap(err.Error()), "path", gqlErr.Path.String())
		}
		if e.Code == errs.Internal {
			// The cause may quote the client's input, and so may the query:
			// both are capped.
			reqlog.From(ctx, log).Error("internal error", "err", reqlog.Cap(err.Error()), "path", gqlErr.Path.String(),
				"operation", reqlog.Cap(operationName(ctx)), "query", reqlog.Cap(rawQuery(ctx)))
			e.Message = "internal error"
		}
		gqlErr.Message = e.Error()
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["code"] = string(e.Code)
		if e.Field != "" {
			gqlErr.Extensions["field"] = e.Field
		}
		return gqlErr
	}
}

// errorFor is what a client is told of err, in the vocabulary of the
// presenter (bulk results carry errors as data). Internal errors are logged.
func (r *Resolver) errorFor(ctx context.Context, err error) *errs.Error {
	e := classify(err)
	switch {
	case e.Code == errs.Internal && reqlog.ClientGone(ctx):
		reqlog.From(ctx, r.Logger).Debug("client went away", "err", reqlog.Cap(err.Error()))
		return errs.New(errs.Cancelled, "request cancelled")
	case e.Code == errs.Internal:
		reqlog.From(ctx, r.Logger).Error("internal error", "err", reqlog.Cap(err.Error()))
		return errs.New(errs.Internal, "internal error")
	}
	return e
}

// classify turns any error into an *errs.Error.
func classify(err error) *errs.Error {
	if e, ok := errs.As(err); ok {
		return e
	}
	var (
		ve *ent.ValidationError
		ce *ent.ConstraintError
	)
	switch {
	case errors.Is(err, privacy.Deny):
		var g *gqlerror.Error
		if errors.As(err, &g) && g.Err != nil {
			err = g.Err // the reason, without the GraphQL position
		}
		return errs.New(errs.Forbidden, "forbidden: %s", denyReason(err))
	case ent.IsNotFound(err):
		return errs.New(errs.NotFound, "not found")
	case errors.As(err, &ve):
		field := "input." + lowerCamel(ve.Name)
		return errs.Invalid(field, "%s", validationReason(ve))
	case errors.As(err, &ce):
		return constraint(ce)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errs.New(errs.Internal, "request cancelled or timed out")
	}
	return &errs.Error{Code: errs.Internal, Message: "internal error", Err: err}
}

// argumentError reports whether an error arose decoding an argument of the
// field being resolved (a malformed cursor, say): that is bad input.
func argumentError(ctx context.Context, path ast.Path) (string, bool) {
	fc := graphql.GetFieldContext(ctx)
	// A root object's context (Subscription, say) has no field at all.
	if fc == nil || fc.Field.Field == nil || fc.Field.Definition == nil {
		return "", false
	}
	at := len(fc.Path())
	if len(path) <= at {
		return "", false
	}
	name, ok := path[at].(ast.PathName)
	if !ok || fc.Field.Definition.Arguments.ForName(string(name)) == nil {
		return "", false
	}
	return path[at:].String(), true // relative to the field, like input.title
}

func denyReason(err error) string {
	msg, _, _ := strings.Cut(err.Error(), ": "+privacy.Deny.Error())
	if msg == err.Error() || msg == "" {
		return "not allowed"
	}
	return msg
}

// validationReason is what a schema validator said, without ent's wrapping
// (which names Go types and fields, not the API's).
func validationReason(ve *ent.ValidationError) string {
	var inner error = ve
	for u := errors.Unwrap(inner); u != nil; u = errors.Unwrap(inner) {
		inner = u
	}
	if inner == error(ve) {
		return "is invalid"
	}
	return inner.Error()
}

// constraint reports a violated database constraint: a duplicate unique
// value, or a row still referenced (e.g. a category with tickets).
func constraint(ce *ent.ConstraintError) *errs.Error {
	var pqErr *pq.Error
	msg := ce.Error()
	if errors.As(ce, &pqErr) {
		switch pqErr.Code {
		case "23505":
			return &errs.Error{Code: errs.Conflict, Message: fmt.Sprintf("already exists (%s)", pqErr.Constraint), Err: ce}
		case "23503":
			return &errs.Error{Code: errs.Conflict, Message: "still in use by other records (" + pqErr.Constraint + ")", Err: ce}
		}
	}
	switch {
	case strings.Contains(msg, "UNIQUE constraint failed"):
		return &errs.Error{Code: errs.Conflict, Message: "already exists", Err: ce}
	case strings.Contains(msg, "FOREIGN KEY constraint failed"):
		return &errs.Error{Code: errs.Conflict, Message: "still in use by other records", Err: ce}
	}
	return &errs.Error{Code: errs.Conflict, Message: "violates a constraint", Err: ce}
}

func isForeignKey(ce *ent.ConstraintError) bool {
	var pqErr *pq.Error
	if errors.As(ce, &pqErr) {
		return pqErr.Code == "23503"
	}
	return strings.Contains(ce.Error(), "FOREIGN KEY constraint failed")
}

// foreignKeyField names the input field of a dangling reference, where the
// database says which column it was (PostgreSQL: Key (site_id)=(…)).
func foreignKeyField(ce *ent.ConstraintError) string {
	var pqErr *pq.Error
	if errors.As(ce, &pqErr) {
		if _, rest, ok := strings.Cut(pqErr.Detail, "Key ("); ok {
			if col, _, ok := strings.Cut(rest, ")"); ok {
				return "input." + lowerCamel(col)
			}
		}
	}
	return "input"
}

// deleting reports whether the error arose in a delete mutation.
func deleting(ctx context.Context) bool {
	name := ""
	for fc := graphql.GetFieldContext(ctx); fc != nil; fc = fc.Parent { // up to the root field
		if fc.Field.Field != nil {
			name = fc.Field.Name
		}
	}
	return strings.HasPrefix(name, "delete") || strings.HasPrefix(name, "unlink") || strings.HasPrefix(name, "unwatch")
}

// lowerCamel turns ent's snake_case field names into GraphQL's lowerCamelCase.
func lowerCamel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '_':
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// operationName is the name of the request's operation, or its type when
// it has none.
func operationName(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return ""
	}
	return nameOf(graphql.GetOperationContext(ctx))
}

// nameOf is the name of oc's operation, or its type when it has none.
func nameOf(oc *graphql.OperationContext) string {
	switch {
	case oc.OperationName != "":
		return oc.OperationName
	case oc.Operation != nil && oc.Operation.Name != "":
		return oc.Operation.Name
	case oc.Operation != nil:
		return string(oc.Operation.Operation)
	}
	return ""
}

func rawQuery(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return ""
	}
	return graphql.GetOperationContext(ctx).RawQuery
}

// logOperation names the operation in the request's log line as soon as it
// is parsed, so that one refused by a later check (its cost, its budget) is
// named too.
type logOperation struct{}

func (logOperation) ExtensionName() string                   { return "LogOperation" }
func (logOperation) Validate(graphql.ExecutableSchema) error { return nil }
func (logOperation) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	reqlog.SetOperation(ctx, nameOf(oc))
	return nil
}

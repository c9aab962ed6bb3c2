package errs

import (
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// The media types of GraphQL responses over HTTP.
const (
	MediaJSON            = "application/json"
	MediaGraphQLResponse = "application/graphql-response+json"
)

// WriteHTTP answers a request refused before GraphQL runs (too large a body,
// no valid token) with e as a GraphQL error response, in the same vocabulary.
// The body is application/graphql-response+json when r's Accept prefers it
// (the GraphQL-over-HTTP spec's media type, under which clients such as
// Apollo Client 4 read a non-2xx body as GraphQL errors), application/json
// otherwise.
func WriteHTTP(w http.ResponseWriter, r *http.Request, status int, e *Error) {
	ext := map[string]any{"code": string(e.Code)}
	if e.Field != "" {
		ext["field"] = e.Field
	}
	w.Header().Set("Content-Type", ResponseMediaType(r))
	w.Header().Add("Vary", "Accept")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": e.Error(), "extensions": ext}}})
}

// ResponseMediaType is the media type r's Accept header asks for: the one
// of application/graphql-response+json and application/json with the
// higher q (the first listed on a tie), application/json when Accept names
// neither (no header, */* alone: the spec's legacy default).
func ResponseMediaType(r *http.Request) string {
	best, bestQ := MediaJSON, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || (mt != MediaJSON && mt != MediaGraphQLResponse) {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil {
				continue
			}
		}
		if q > 0 && q > bestQ {
			best, bestQ = mt, q
		}
	}
	return best
}

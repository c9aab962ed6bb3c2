package errs

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestWriteHTTPMediaType: a refusal is written in the media type the
// client's Accept prefers, so a client of the GraphQL-over-HTTP spec reads
// a 401 as a GraphQL error; application/json when it does not ask.
func TestWriteHTTPMediaType(t *testing.T) {
	for _, tc := range []struct{ accept, want string }{
		{"", MediaJSON},
		{"*/*", MediaJSON},
		{"application/json", MediaJSON},
		{"application/graphql-response+json", MediaGraphQLResponse},
		{"application/graphql-response+json, application/json;q=0.9", MediaGraphQLResponse}, // Apollo Client 4
		{"application/json;q=0.9, application/graphql-response+json", MediaGraphQLResponse},
		{"application/json, application/graphql-response+json", MediaJSON},
		{"application/graphql-response+json;q=0, application/json", MediaJSON},
		{"text/html, application/graphql-response+json;q=0.5", MediaGraphQLResponse},
		{"application/graphql-response+json;q=oops", MediaJSON},
	} {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		w := httptest.NewRecorder()
		WriteHTTP(w, r, http.StatusUnauthorized, New(Unauthenticated, "missing or invalid API token"))
		if got := w.Header().Get("Content-Type"); got != tc.want {
			t.Errorf("Accept %q: Content-Type %q, want %q", tc.accept, got, tc.want)
		}
		var body struct {
			Data   *json.RawMessage `json:"data"`
			Errors []struct {
				Message    string
				Extensions map[string]string
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusUnauthorized ||
			len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != string(Unauthenticated) || body.Data != nil {
			t.Errorf("Accept %q: %d %s (%v)", tc.accept, w.Code, w.Body, err)
		}
	}
}

package errs

import (
	"encoding/json"
	"net/http"
)

// WriteHTTP answers a request refused before GraphQL runs (too large a body,
// no valid token) with e as a GraphQL error response, in the same vocabulary.
func WriteHTTP(w http.ResponseWriter, status int, e *Error) {
	ext := map[string]any{"code": string(e.Code)}
	if e.Field != "" {
		ext["field"] = e.Field
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []any{map[string]any{"message": e.Error(), "extensions": ext}}})
}

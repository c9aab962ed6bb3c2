package server

import (
	"net/http"
	"time"

	"github.com/rs/cors"
)

// corsMaxAge is how long a browser may cache a preflight's answer: short,
// so that a changed SOCDESK_CORS_ORIGINS is seen soon.
const corsMaxAge = 10 * time.Minute

// withCORS lets pages of the allowed origins call the API (rs/cors). It
// runs before authentication, so that a preflight, which carries no token,
// is answered (204) rather than refused with 401, and a 401 itself carries
// the headers a page needs to read it. Credentials (cookies, TLS client
// certificates) are never allowed: the API authenticates by bearer token,
// which a page sends itself. With no origins it adds nothing.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins:   origins, // "*" answers Access-Control-Allow-Origin: *
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Accept", "GraphQL-Require-Preflight", "Apollo-Require-Preflight"},
		AllowCredentials: false,
		// What a page may read of a response besides the safelisted headers:
		// the rate budget and the request id to quote in a support request.
		ExposedHeaders: []string{"RateLimit", "RateLimit-Policy", "RateLimit-Limit", "RateLimit-Remaining",
			"RateLimit-Reset", "Retry-After", "X-Request-Id"},
		MaxAge: int(corsMaxAge / time.Second),
	}).Handler(next)
}

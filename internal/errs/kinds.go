package errs

import "github.com/99designs/gqlgen/graphql/errcode"

// RequestErrors are the codes of a request refused before it runs (bad
// input, a check that forbids it, a spent rate budget): registered with
// gqlgen's errcode as protocol errors, so that the transports answer them
// 4xx, with no data, under application/graphql-response+json. This is the
// one place that says which codes those are.
var RequestErrors = []Code{BadUserInput, Forbidden, RateLimited}

func init() {
	for _, c := range RequestErrors {
		errcode.RegisterErrorType(string(c), errcode.KindProtocol)
	}
}

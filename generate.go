// Package socdesk is the root of the socdesk module; it holds the code
// generation chain: ent (with entgql) first, then gqlgen, which binds to ent.
package socdesk

//go:generate go run -mod=mod ./ent/entc.go
//go:generate go run -mod=mod github.com/99designs/gqlgen generate

// Package live is the fan-out of ticket changes to GraphQL subscriptions:
// the Hub reads the ticket history once per batch and hands each
// ticketEvents subscriber the changes it may see and that match its
// filter, and tells trend subscriptions when to recompute. Sessions
// re-checks the tokens of open websocket connections. The websocket
// transport itself is package wsguard's.
package live

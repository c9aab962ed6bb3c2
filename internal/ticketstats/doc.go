// Package ticketstats computes the tickets' response metrics from their
// status history: MTTA (creation to first response), MTTR (creation to
// resolution) as mean, p50 and p90, and the time spent in each status,
// grouped by category, site, priority, assignee and period. The moments
// are workflow's (ResponseKinds, ResolvedStatuses); every figure is as of
// the end of the range, so a past range's figures never change.
package ticketstats

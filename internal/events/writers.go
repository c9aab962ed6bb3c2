package events

import "fmt"

// On PostgreSQL the live hubs read the history in (transaction id, entry id)
// order, and must know how far that order is settled: an entry written by a
// transaction still running may commit after entries of later transactions
// have been read. Every transaction that appends history therefore first
// registers as a writer, by taking a shared advisory lock (shared locks never
// wait on each other, and no one takes it exclusively), before it writes
// anything, so before it has a transaction id. A hub then finds the
// transaction ids of the writers still running in pg_locks, and reads only up
// to the oldest of them (see live.Hub). Other work on the cluster, however
// long, never holds the stream back.

// WriterLockKey is the advisory lock key of history writers.
const WriterLockKey = 0x50CDE5C

// RegisterWriterSQL is the statement a history-writing transaction runs
// first on PostgreSQL.
var RegisterWriterSQL = fmt.Sprintf(`SELECT pg_advisory_xact_lock_shared(%d)`, WriterLockKey)

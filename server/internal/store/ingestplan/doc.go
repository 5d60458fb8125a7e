// Package ingestplan decides what one ApplyBatch call writes and which
// changes it records, from the messages and the stored state a backend
// read for them, so that every store applies the same ingest rules and
// keeps only the reading and the SQL.
package ingestplan

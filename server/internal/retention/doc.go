// Package retention deletes history past its retention period, on a
// schedule and in small batches so that ingest never waits long for it.
package retention

// Package postgres is the production store.Store on PostgreSQL through a
// pgx connection pool, writing each ingest batch in a few pipelined round
// trips.
package postgres

// Package sqlite is the embedded store.Store: one SQLite file, written by a
// single connection and read by a pool, for first runs and small fleets.
package sqlite

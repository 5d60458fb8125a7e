// Package loadgen simulates a fleet of agents against a Steward server,
// speaking protocol v1, and measures enrollment, connection and ingest.
package loadgen

// Package loadgen simulates a fleet of agents against a Steward server,
// speaking protocol v1, and measures enrollment, connection and ingest,
// policy propagation and, with simulated failing results and a webhook
// receiver of its own, result-to-notification latency of alerting.
package loadgen

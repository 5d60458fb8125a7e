// Package runner keeps the agent connected to its server: it enrolls,
// dials, speaks protocol v1 (hello, inventory diffs, heartbeats, acks,
// policy sets and results) and reconnects with backoff until its context
// ends.
//
// When the server refuses the node key at dial (host deleted, database
// reset) and an enroll secret is configured, the key is renamed to
// node_key.rejected and the agent enrolls again as a new host. Without a
// secret the key is kept and the dial retried with backoff, since restoring
// the server's database would make the key valid again.
package runner

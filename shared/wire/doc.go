// Package wire defines protocol v1 between agent and server: the envelope,
// the message types and their payloads, and the limits both sides enforce.
package wire

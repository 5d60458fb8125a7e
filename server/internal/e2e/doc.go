// Package e2e runs the real steward-server, steward-agent and stewardctl
// binaries against each other over real sockets, on both stores.
package e2e

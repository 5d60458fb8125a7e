// Package gateway serves the agent endpoints: enrollment and the
// authenticated WebSocket that carries protocol v1.
package gateway

// Package transport speaks HTTP and WebSocket to the Steward server:
// enrollment, the authenticated dial, and a connection served by exactly one
// reader and one writer goroutine.
package transport

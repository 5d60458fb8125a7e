// Package apitypes holds the request and response bodies of the HTTP API
// (docs/api.md): what the server encodes and what clients such as
// stewardctl decode. It imports nothing of the server, so a client links
// only these types.
package apitypes

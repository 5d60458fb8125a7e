// Package apitest provides an in-memory store and a test server for tests
// of the admin API and its clients.
package apitest

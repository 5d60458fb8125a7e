// Package api serves the admin REST API under /api/v1: hosts, their
// inventory and change history, and fleet-wide software search, behind an
// admin bearer token.
package api

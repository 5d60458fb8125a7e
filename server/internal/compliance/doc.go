// Package compliance evaluates expr-only policies on the server, against
// each host's stored inventory, and records their results.
package compliance

// Package apiclient calls the admin REST API and turns its failures into
// errors that say what to fix.
package apiclient

// Package ctl is stewardctl: it parses the command line, calls the admin
// REST API and prints the answers as tables or JSON.
package ctl

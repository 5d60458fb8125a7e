// Package changes computes the typed changes between two versions of one
// host's inventory section: software installed, removed or upgraded,
// hardware, network, ports, users, services and OS changes.
package changes

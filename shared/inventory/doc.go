// Package inventory defines the inventory document that agents collect and
// the server stores: named sections, each hashed over its canonical JSON.
package inventory

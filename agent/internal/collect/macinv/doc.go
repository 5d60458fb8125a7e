// Package macinv turns macOS plists, receipts and tool output into inventory sections.
package macinv

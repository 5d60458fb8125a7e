//go:build !linux

package service

import "io"

// isJournal is false: journald exists only on Linux.
func isJournal(io.Writer) bool { return false }

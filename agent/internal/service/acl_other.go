//go:build !windows

package service

import "os"

// secureDir leaves the directory as it is (0755, like /etc): on Unix the
// files in it carry their own modes (0600).
func secureDir(string) error { return nil }

// isAdmin reports whether this process runs as root.
func isAdmin() bool { return os.Geteuid() == 0 }

//go:build linux && !(amd64 || arm64)

package check

import "golang.org/x/sys/unix"

// lstatAt describes the entry called name relative to directory dirfd,
// without following a symbolic link (through unix.Fstatat, which knows
// each architecture's stat call; amd64 and arm64 skip its copy of the
// name).
func lstatAt(dirfd int, _ *byte, name string, st *unix.Stat_t) error {
	return unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
}

// openAt opens name relative to directory dirfd.
func openAt(dirfd int, _ *byte, name string, flags int) (int, error) {
	return unix.Openat(dirfd, name, flags, 0)
}

//go:build linux && (amd64 || arm64)

package check

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// lstatAt describes the entry whose NUL-terminated name starts at name
// (inside a getdents buffer), relative to directory dirfd, without
// following a symbolic link. Passing the buffer's own bytes spares
// unix.Fstatat's copy of the name into a new C string for every entry.
func lstatAt(dirfd int, name *byte, _ string, st *unix.Stat_t) error {
	_, _, errno := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)),
		uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// openAt opens the entry whose NUL-terminated name starts at name
// relative to directory dirfd, as unix.Openat does without copying the
// name.
func openAt(dirfd int, name *byte, _ string, flags int) (int, error) {
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(name)), uintptr(flags), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

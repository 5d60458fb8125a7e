package check

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/steward-project/steward/shared/policy"
)

// walkOpenHook, when set (by tests), is called before a directory is
// opened with its path on the checked system; an error it returns is
// treated as the open's error.
var walkOpenHook func(dir string) error

// direntBufSize is the getdents buffer, reused for the whole walk.
const direntBufSize = 64 << 10

// Walk scans the roots of spec (policy.Walker). It lists each directory
// with getdents and describes each entry with fstatat(AT_SYMLINK_NOFOLLOW)
// relative to the directory's descriptor, so no symbolic link is ever
// followed. One directory is open at a time (a deep tree cannot run out
// of descriptors): a directory is listed to the end, then its
// subdirectories are opened by path with O_NOFOLLOW and checked to be the
// same directory (device and inode) that was listed, so a directory
// swapped for a link meanwhile is counted as vanished rather than
// followed. Memory is the getdents buffer plus the names of
// subdirectories still to visit along the current branch. A path longer
// than the kernel's PATH_MAX cannot be opened and counts as unreadable.
func (e *liveEnv) Walk(ctx context.Context, spec policy.WalkSpec, visit func(*policy.WalkEntry) error) (policy.WalkStats, error) {
	w := &linuxWalker{
		env:   e,
		ctx:   ctx,
		spec:  spec,
		plan:  newWalkPlan(spec),
		names: e.newIDNames(),
		visit: visit,
		buf:   make([]byte, direntBufSize),
	}
	if e.root == "" && len(w.plan.fsTypes) > 0 {
		// Only the live system has mounts; an image's are not mounted.
		w.mounts = readMountTypes("/proc/self/mountinfo")
	}
	for _, r := range spec.Roots {
		if err := w.walkRoot(path.Clean("/" + r)); err != nil {
			return w.stats, err
		}
	}
	return w.stats, nil
}

type linuxWalker struct {
	env    *liveEnv
	ctx    context.Context
	spec   policy.WalkSpec
	plan   walkPlan
	names  *idNames
	mounts map[string]string // mount point -> fstype of the top mount
	visit  func(*policy.WalkEntry) error
	buf    []byte
	stats  policy.WalkStats
	entry  policy.WalkEntry
	// rootDev is the current root's device, for SameFilesystem.
	rootDev uint64
	// ancestors are the directories walked along the current branch,
	// for loop detection.
	ancestors []devIno
}

type devIno struct{ dev, ino uint64 }

// subdir is a directory found while listing its parent, visited after.
type subdir struct {
	name     string
	dev, ino uint64
}

// walkRoot visits root r (depth 0) and, when it is a directory, below it.
func (w *linuxWalker) walkRoot(r string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	hp, err := w.env.linkHostPath(r)
	if err != nil {
		w.stats.Missing++
		return nil
	}
	var st unix.Stat_t
	if err := unix.Lstat(hp, &st); err != nil {
		w.stats.Missing++
		return nil
	}
	w.rootDev = st.Dev
	w.entry = policy.WalkEntry{Dir: "", Name: r, Root: r}
	if err := w.emit(&st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	w.ancestors = w.ancestors[:0]
	return w.dir(r, r, hp, 1, devIno{st.Dev, st.Ino})
}

// dir lists directory d (path p on the checked system, hp on this
// machine), whose entries are at depth.
func (w *linuxWalker) dir(root, p, hp string, depth int, id devIno) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	for _, a := range w.ancestors {
		if a == id {
			w.stats.Loops++
			return nil
		}
	}
	var fd int
	var err error
	if walkOpenHook != nil {
		err = walkOpenHook(p)
	}
	if err == nil {
		fd, err = unix.Open(hp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			w.stats.Vanished++
		} else {
			w.stats.Unreadable++
		}
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != id.dev || st.Ino != id.ino {
		unix.Close(fd)
		w.stats.Vanished++ // replaced since it was listed
		return nil
	}
	subs, err := w.list(fd, root, p, depth, id.dev)
	unix.Close(fd)
	if err != nil {
		return err
	}
	w.ancestors = append(w.ancestors, id)
	defer func() { w.ancestors = w.ancestors[:len(w.ancestors)-1] }()
	for _, s := range subs {
		if err := w.dir(root, joinPath(p, s.name), joinPath(hp, s.name), depth+1, devIno{s.dev, s.ino}); err != nil {
			return err
		}
	}
	return nil
}

// list reads directory fd to the end, visiting each entry, and returns the
// subdirectories to descend into.
func (w *linuxWalker) list(fd int, root, p string, depth int, parentDev uint64) ([]subdir, error) {
	var subs []subdir
	descend := w.spec.MaxDepth <= 0 || depth < w.spec.MaxDepth
	var st unix.Stat_t
	for {
		n, err := unix.Getdents(fd, w.buf)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			w.stats.Unreadable++
			return subs, nil
		}
		if n <= 0 {
			return subs, nil
		}
		for off := 0; off < n; {
			// struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16,
			// d_type u8, d_name NUL-terminated.
			if off+19 > n {
				break
			}
			reclen := int(*(*uint16)(unsafe.Pointer(&w.buf[off+16])))
			if reclen <= 0 || off+reclen > n {
				break
			}
			nameBytes := w.buf[off+19 : off+reclen]
			if i := indexNUL(nameBytes); i >= 0 {
				nameBytes = nameBytes[:i]
			}
			off += reclen
			if len(nameBytes) == 0 || (nameBytes[0] == '.' && (len(nameBytes) == 1 || (len(nameBytes) == 2 && nameBytes[1] == '.'))) {
				continue
			}
			// A view of the buffer, valid until the next Getdents.
			name := unsafe.String(&nameBytes[0], len(nameBytes))
			if err := w.ctx.Err(); err != nil {
				return nil, err
			}
			if w.plan.excluded(p, name) {
				w.stats.Pruned++
				continue
			}
			if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				w.stats.Vanished++
				continue
			}
			isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
			crossed := isDir && st.Dev != parentDev
			if crossed && w.mounts != nil {
				if t, ok := w.mounts[joinPath(p, name)]; ok && w.plan.fsTypes[t] {
					w.stats.Pruned++
					continue
				}
			}
			w.entry = policy.WalkEntry{Dir: p, Name: name, Root: root, Depth: depth}
			if err := w.emit(&st); err != nil {
				return nil, err
			}
			if !isDir || !descend {
				continue
			}
			if w.spec.SameFilesystem && st.Dev != w.rootDev {
				w.stats.Pruned++
				continue
			}
			subs = append(subs, subdir{name: strings.Clone(name), dev: st.Dev, ino: st.Ino})
		}
	}
}

// emit fills the current entry from st and visits it.
func (w *linuxWalker) emit(st *unix.Stat_t) error {
	w.stats.Entries++
	e := &w.entry
	e.Mode = unixMode(st.Mode)
	e.HasIDs, e.UID, e.GID = true, st.Uid, st.Gid
	e.Owner = w.names.user(st.Uid)
	e.Group = w.names.group(st.Gid)
	return w.visit(e)
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// unixMode converts st_mode to an fs.FileMode as os.Lstat does.
func unixMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFREG:
	default:
		mode |= fs.ModeIrregular
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// readMountTypes maps each mount point of mountinfo (proc(5): field 5 is
// the mount point, the field after the " - " separator the file-system
// type) to its type. Mounts are listed in mount order, so a later mount on
// the same point (the one on top, which a path lookup reaches) wins.
// Octal escapes (\040 for a space) in the mount point are decoded.
func readMountTypes(file string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(file)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		fields := strings.Fields(pre)
		after := strings.Fields(post)
		if len(fields) < 5 || len(after) < 1 {
			continue
		}
		out[unescapeMount(fields[4])] = after[0]
	}
	return out
}

// unescapeMount decodes mountinfo's \ooo octal escapes.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

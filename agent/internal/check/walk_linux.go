package check

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/steward-project/steward/shared/policy"
)

// walkOpenHook, when set (by tests), is called before a directory is
// opened with its path on the checked system; an error it returns is
// treated as the open's error. It may be called from several goroutines,
// and twice for one directory: before it is opened relative to its parent
// and, when that is refused, before it is opened by its full path.
var walkOpenHook func(dir string) error

// direntBufSize is each worker's getdents buffer, reused for its whole
// walk.
const direntBufSize = 64 << 10

// walkWorkers is how many goroutines list directories at once: GOMAXPROCS,
// at most maxWalkWorkers. Tests set it.
var walkWorkers = func() int { return min(runtime.GOMAXPROCS(0), maxWalkWorkers) }

// maxHeldDirs bounds the subdirectories a walk keeps open between finding
// them and listing them; past it, one is opened again by its path when
// its turn comes. Tests set it.
var maxHeldDirs int64 = 256

const (
	maxWalkWorkers = 4
	// walkBatch is how many entries a worker stats before it takes the
	// visit lock to hand them over.
	walkBatch = 256
)

// Walk scans the roots of spec (policy.Walker). It lists each directory
// with getdents and describes each entry with fstatat(AT_SYMLINK_NOFOLLOW)
// relative to the directory's descriptor, so no symbolic link is ever
// followed. A small pool of workers (walkWorkers) takes directories from
// a shared stack, each listing one directory at a time to the end. A
// subdirectory found there is opened at once relative to the listed
// directory's descriptor with O_NOFOLLOW, described from its own
// descriptor (one call fewer than a stat now and an open later) and
// pushed still open. At most maxHeldDirs wait open per walk, so a deep or
// wide tree cannot run out of descriptors; past that, and for mount
// points, whose file-system type is judged before anything is opened, a
// subdirectory is stat'ed and pushed to be opened later by path with
// O_NOFOLLOW and checked to be the same directory (device and inode)
// that was listed, so a directory swapped for a link meanwhile is
// counted as vanished rather than followed. Entries reach visit one at a
// time, under a lock, in batches a worker stats while the others list.
// Memory is a getdents buffer and a batch per worker plus the directories
// still to visit (the stack is last in, first out, so it holds about what
// a depth-first walk would: the pending subdirectories along the branches
// being walked), never a list of entries. A directory whose path is
// longer than the kernel's PATH_MAX is listed only when it was reached
// through an open descriptor; opened by path, it counts as unreadable.
func (e *liveEnv) Walk(ctx context.Context, spec policy.WalkSpec, visit func(*policy.WalkEntry) error) (policy.WalkStats, error) {
	w := &linuxWalk{
		env:   e,
		ctx:   ctx,
		spec:  spec,
		plan:  newWalkPlan(spec),
		names: e.newIDNames(),
		visit: visit,
	}
	w.cond = sync.NewCond(&w.mu)
	if e.root == "" && len(w.plan.fsTypes) > 0 {
		// Only the live system has mounts; an image's are not mounted.
		w.mounts = readMountTypes("/proc/self/mountinfo")
		w.mountBase = map[string]bool{}
		for m := range w.mounts {
			w.mountBase[path.Base(m)] = true
		}
	}
	// Opening a directory reaches a file system mounted there (an
	// automount one too) before its device can be compared; with
	// same_filesystem and no mount table to tell mount points, each
	// directory is stat'ed first instead.
	w.openEarly = !spec.SameFilesystem || w.mounts != nil
	// The roots are examined first, in order, by this goroutine.
	for _, r := range spec.Roots {
		if err := w.root(path.Clean("/" + r)); err != nil {
			return w.stats, err
		}
	}
	n := max(1, walkWorkers())
	workers := make([]*walkWorker, n)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = &walkWorker{w: w, buf: make([]byte, direntBufSize)}
		wg.Add(1)
		go func(ww *walkWorker) {
			defer wg.Done()
			ww.run()
		}(workers[i])
	}
	wg.Wait()
	for _, d := range w.stack { // left by a walk that stopped early
		w.release(d)
	}
	for _, ww := range workers {
		w.stats.Unreadable += ww.stats.Unreadable
		w.stats.Vanished += ww.stats.Vanished
		w.stats.Loops += ww.stats.Loops
		w.stats.Pruned += ww.stats.Pruned
	}
	return w.stats, w.err
}

// linuxWalk is one Walk: what its workers share.
type linuxWalk struct {
	env    *liveEnv
	ctx    context.Context
	spec   policy.WalkSpec
	plan   walkPlan
	mounts map[string]string // mount point -> fstype of the top mount
	// mountBase holds the mounts' base names, a cheap first test.
	mountBase map[string]bool
	// openEarly: subdirectories may be opened while their parent is
	// listed (see walkWorker.openSub).
	openEarly bool
	held      atomic.Int64 // subdirectories open and waiting

	// mu guards the stack of directories to list, busy (directories
	// being listed) and err (the first error, which stops every worker).
	mu    sync.Mutex
	cond  *sync.Cond
	stack []walkDir
	busy  int
	err   error
	// stopped is err != nil, read without the lock.
	stopped atomic.Bool

	// vmu serialises visit, and guards names and stats.Entries.
	vmu   sync.Mutex
	names *idNames
	visit func(*policy.WalkEntry) error
	stats policy.WalkStats // Entries and Missing; workers count the rest
	entry policy.WalkEntry
}

type devIno struct{ dev, ino uint64 }

// ancestor is one directory of a branch, for loop detection; branches
// share their common part.
type ancestor struct {
	id devIno
	up *ancestor
}

// walkDir is a directory found while listing its parent (or a root),
// listed later by some worker.
type walkDir struct {
	root, p, hp string
	depth       int // depth of the directory's entries
	id          devIno
	// fd, when held, is the directory already open, relative to its
	// parent's descriptor: it is listed without opening it by path again.
	fd      int
	held    bool
	rootDev uint64    // the root's device, for SameFilesystem
	up      *ancestor // the directories above it on its branch
}

// fail records the walk's first error and wakes every worker to stop.
func (w *linuxWalk) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
		w.stopped.Store(true)
	}
	w.cond.Broadcast()
	w.mu.Unlock()
}

// root examines root r (depth 0) and, when it is a directory to descend
// into, stacks it.
func (w *linuxWalk) root(r string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	if w.plan.rootExcluded(r) {
		w.stats.Pruned++
		return nil
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
	w.stats.Entries++
	w.fill(&w.entry, policy.WalkEntry{Dir: "", Name: r, Root: r}, st.Mode, st.Uid, st.Gid)
	if err := w.visit(&w.entry); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR && descends(w.spec, 0) {
		w.stack = append(w.stack, walkDir{root: r, p: r, hp: hp, depth: 1, id: devIno{st.Dev, st.Ino}, rootDev: st.Dev})
	}
	return nil
}

// fill sets *e to base described by a stat's mode and ids (vmu held, or
// before the workers start).
func (w *linuxWalk) fill(e *policy.WalkEntry, base policy.WalkEntry, mode, uid, gid uint32) {
	*e = base
	e.Mode = unixMode(mode)
	e.HasIDs, e.UID, e.GID = true, uid, gid
	e.Owner = w.names.user(uid)
	e.Group = w.names.group(gid)
}

// walkWorker lists directories from the shared stack.
type walkWorker struct {
	w     *linuxWalk
	buf   []byte
	batch []statted
	subs  []walkDir
	stats policy.WalkStats // Unreadable, Vanished, Loops, Pruned
}

// statted is a listed entry, named by a view of the getdents buffer.
type statted struct {
	name           string
	mode, uid, gid uint32
}

func (ww *walkWorker) run() {
	w := ww.w
	for {
		w.mu.Lock()
		for len(w.stack) == 0 && w.busy > 0 && w.err == nil {
			w.cond.Wait()
		}
		if w.err != nil || len(w.stack) == 0 {
			// Stopped, or nothing left to list and nobody listing.
			w.cond.Broadcast()
			w.mu.Unlock()
			return
		}
		d := w.stack[len(w.stack)-1]
		w.stack = w.stack[:len(w.stack)-1]
		w.busy++
		w.mu.Unlock()

		ww.subs = ww.subs[:0]
		err := ww.dir(d)

		w.mu.Lock()
		w.busy--
		if err != nil && w.err == nil {
			w.err = err
			w.stopped.Store(true)
		}
		// Pushed in reverse so the first listed is listed first.
		for i := len(ww.subs) - 1; i >= 0; i-- {
			w.stack = append(w.stack, ww.subs[i])
		}
		if len(ww.subs) > 0 || w.busy == 0 || w.err != nil {
			w.cond.Broadcast()
		}
		w.mu.Unlock()
	}
}

// dir lists directory d, visiting its entries and collecting in ww.subs
// the subdirectories to descend into.
func (ww *walkWorker) dir(d walkDir) error {
	w := ww.w
	defer w.release(d)
	if err := w.ctx.Err(); err != nil {
		return err
	}
	for a := d.up; a != nil; a = a.up {
		if a.id == d.id {
			ww.stats.Loops++
			return nil
		}
	}
	if d.held {
		return ww.list(d.fd, d)
	}
	var fd int
	var err error
	if walkOpenHook != nil {
		err = walkOpenHook(d.p)
	}
	if err == nil {
		fd, err = unix.Open(d.hp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			ww.stats.Vanished++
		} else {
			ww.stats.Unreadable++
		}
		return nil
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != d.id.dev || st.Ino != d.id.ino {
		ww.stats.Vanished++ // replaced since it was listed
		return nil
	}
	return ww.list(fd, d)
}

// list reads directory fd (d) to the end.
func (ww *walkWorker) list(fd int, d walkDir) error {
	w := ww.w
	descend := descends(w.spec, d.depth)
	here := &ancestor{id: d.id, up: d.up}
	var st unix.Stat_t
	for {
		n, err := unix.Getdents(fd, ww.buf)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			ww.stats.Unreadable++
			return nil
		}
		if n <= 0 {
			return nil
		}
		if w.stopped.Load() {
			return nil
		}
		for off := 0; off < n; {
			// struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16,
			// d_type u8, d_name NUL-terminated.
			if off+19 > n {
				break
			}
			reclen := int(*(*uint16)(unsafe.Pointer(&ww.buf[off+16])))
			if reclen <= 0 || off+reclen > n {
				break
			}
			dtype := ww.buf[off+18]
			nameBytes := ww.buf[off+19 : off+reclen]
			i := indexNUL(nameBytes)
			off += reclen
			if i < 0 {
				continue // not NUL-terminated: not a name the kernel wrote
			}
			nameBytes = nameBytes[:i]
			if len(nameBytes) == 0 || (nameBytes[0] == '.' && (len(nameBytes) == 1 || (len(nameBytes) == 2 && nameBytes[1] == '.'))) {
				continue
			}
			// A view of the buffer, valid until the next Getdents: the
			// batch is handed over before that.
			name := unsafe.String(&nameBytes[0], len(nameBytes))
			if w.plan.excluded(d.p, name) {
				ww.stats.Pruned++
				continue
			}
			if dtype == unix.DT_DIR && descend && w.openEarly && ww.openSub(fd, d, here, &nameBytes[0], name, &st) {
				if len(ww.batch) >= walkBatch {
					if err := ww.flush(d); err != nil {
						return err
					}
				}
				continue
			}
			if err := lstatAt(fd, &nameBytes[0], name, &st); err != nil {
				ww.stats.Vanished++
				continue
			}
			isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
			if isDir && st.Dev != d.id.dev && w.mounts != nil {
				if t, ok := w.mounts[joinPath(d.p, name)]; ok && w.plan.fsTypes[t] {
					ww.stats.Pruned++
					continue
				}
			}
			ww.batch = append(ww.batch, statted{name: name, mode: st.Mode, uid: st.Uid, gid: st.Gid})
			if isDir && descend {
				if w.spec.SameFilesystem && st.Dev != d.rootDev {
					ww.stats.Pruned++
				} else {
					ww.subs = append(ww.subs, walkDir{
						root: d.root, p: joinPath(d.p, name), hp: joinPath(d.hp, name), depth: d.depth + 1,
						id: devIno{st.Dev, st.Ino}, rootDev: d.rootDev, up: here,
					})
				}
			}
			if len(ww.batch) >= walkBatch {
				if err := ww.flush(d); err != nil {
					return err
				}
			}
		}
		if err := ww.flush(d); err != nil {
			return err
		}
	}
}

// flush visits the batch's entries, one at a time under the visit lock,
// stopping at the first error or when the walk is cancelled.
func (ww *walkWorker) flush(d walkDir) error {
	if len(ww.batch) == 0 {
		return nil
	}
	w := ww.w
	w.vmu.Lock()
	defer w.vmu.Unlock()
	defer func() { ww.batch = ww.batch[:0] }()
	for _, s := range ww.batch {
		if w.stopped.Load() {
			return nil
		}
		if err := w.ctx.Err(); err != nil {
			return err
		}
		w.stats.Entries++
		w.fill(&w.entry, policy.WalkEntry{Dir: d.p, Name: s.name, Root: d.root, Depth: d.depth}, s.mode, s.uid, s.gid)
		if err := w.visit(&w.entry); err != nil {
			return err
		}
	}
	return nil
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

package check

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/steward-project/steward/shared/policy"
)

// walkOpenHook, when set (by tests), is called before a directory is
// opened with its path on the checked system; an error it returns is
// treated as the open's error. It may be called from several goroutines.
var walkOpenHook func(dir string) error

// direntBufSize is each worker's getdents buffer, reused for its whole
// walk.
const direntBufSize = 64 << 10

// walkWorkers is how many goroutines list directories at once: GOMAXPROCS,
// at most maxWalkWorkers. Tests set it.
var walkWorkers = func() int { return min(runtime.GOMAXPROCS(0), maxWalkWorkers) }

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
// a shared stack, each holding one directory open at a time (a deep or
// wide tree cannot run out of descriptors): a directory is listed to the
// end, and its subdirectories are pushed to be opened later by path with
// O_NOFOLLOW and checked to be the same directory (device and inode) that
// was listed, so a directory swapped for a link meanwhile is counted as
// vanished rather than followed. Entries reach visit one at a time, under
// a lock, in batches a worker stats while the others list. Memory is a
// getdents buffer and a batch per worker plus the directories still to
// visit (the stack is last in, first out, so it holds about what a
// depth-first walk would: the pending subdirectories along the branches
// being walked), never a list of entries. A path longer than the kernel's
// PATH_MAX cannot be opened and counts as unreadable.
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
	}
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
	rootDev     uint64    // the root's device, for SameFilesystem
	up          *ancestor // the directories above it on its branch
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
	if err := w.ctx.Err(); err != nil {
		return err
	}
	for a := d.up; a != nil; a = a.up {
		if a.id == d.id {
			ww.stats.Loops++
			return nil
		}
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
			nameBytes := ww.buf[off+19 : off+reclen]
			if i := indexNUL(nameBytes); i >= 0 {
				nameBytes = nameBytes[:i]
			}
			off += reclen
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
			if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
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

package check

import "golang.org/x/sys/unix"

// A walk opens subdirectories early, relative to the directory being
// listed, and keeps them open until a worker lists them (see Walk).

// openSub takes subdirectory name of d (being listed from fd) the short
// way: it opens it relative to fd (never following a link), describes it
// from the open descriptor, and stacks it with the descriptor held, so
// that it is neither stat'ed by name nor opened again by its full path
// later. It returns false, having changed nothing, when the usual way
// must be taken: the walk holds maxHeldDirs directories already, the
// name is a mount point (whose file-system type is checked before it is
// opened), or the open fails (the usual way then counts why).
func (ww *walkWorker) openSub(fd int, d walkDir, here *ancestor, cname *byte, name string, st *unix.Stat_t) bool {
	w := ww.w
	if w.held.Load() >= maxHeldDirs {
		return false
	}
	p := joinPath(d.p, name)
	if w.mountBase[name] {
		if _, ok := w.mounts[p]; ok {
			return false
		}
	}
	if walkOpenHook != nil && walkOpenHook(p) != nil {
		return false
	}
	sfd, err := openAt(fd, cname, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return false
	}
	if err := unix.Fstat(sfd, st); err != nil {
		unix.Close(sfd)
		return false
	}
	ww.batch = append(ww.batch, statted{name: name, mode: st.Mode, uid: st.Uid, gid: st.Gid})
	if w.spec.SameFilesystem && st.Dev != d.rootDev {
		ww.stats.Pruned++
		unix.Close(sfd)
		return true
	}
	w.held.Add(1)
	ww.subs = append(ww.subs, walkDir{
		root: d.root, p: p, hp: joinPath(d.hp, name), depth: d.depth + 1,
		id: devIno{st.Dev, st.Ino}, rootDev: d.rootDev, up: here, fd: sfd, held: true,
	})
	return true
}

// release closes d's descriptor, if it holds one.
func (w *linuxWalk) release(d walkDir) {
	if d.held {
		unix.Close(d.fd)
		w.held.Add(-1)
	}
}

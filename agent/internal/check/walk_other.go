//go:build !linux

package check

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/steward-project/steward/shared/policy"
)

// Walk scans the roots of spec (policy.Walker) with os.ReadDir and
// os.Lstat, never following a symbolic link. Mount tables are not
// consulted here (exclude_fstypes applies on Linux only); SameFilesystem
// is not available either and is ignored.
func (e *liveEnv) Walk(ctx context.Context, spec policy.WalkSpec, visit func(*policy.WalkEntry) error) (policy.WalkStats, error) {
	w := &genericWalker{env: e, ctx: ctx, spec: spec, plan: newWalkPlan(spec), names: e.newIDNames(), visit: visit}
	for _, r := range spec.Roots {
		r = path.Clean("/" + r)
		if w.plan.rootExcluded(r) {
			w.stats.Pruned++
			continue
		}
		hp, err := e.linkHostPath(r)
		if err != nil {
			w.stats.Missing++
			continue
		}
		fi, err := os.Lstat(hp)
		if err != nil {
			w.stats.Missing++
			continue
		}
		if err := w.emit(policy.WalkEntry{Name: r, Root: r}, fi); err != nil {
			return w.stats, err
		}
		if fi.IsDir() && descends(spec, 0) {
			if err := w.dir(r, r, hp, 1); err != nil {
				return w.stats, err
			}
		}
	}
	return w.stats, nil
}

type genericWalker struct {
	env   *liveEnv
	ctx   context.Context
	spec  policy.WalkSpec
	plan  walkPlan
	names *idNames
	visit func(*policy.WalkEntry) error
	stats policy.WalkStats
}

func (w *genericWalker) emit(e policy.WalkEntry, fi fs.FileInfo) error {
	w.stats.Entries++
	e.Mode = fi.Mode()
	if uid, gid, ok := statIDs(fi); ok {
		e.HasIDs, e.UID, e.GID = true, uid, gid
		e.Owner, e.Group = w.names.user(uid), w.names.group(gid)
	}
	return w.visit(&e)
}

func (w *genericWalker) dir(root, p, hp string, depth int) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(hp)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			w.stats.Vanished++
		} else {
			w.stats.Unreadable++
		}
		return nil
	}
	defer f.Close()
	descend := descends(w.spec, depth)
	for {
		ents, err := f.ReadDir(1024)
		for _, de := range ents {
			if err := w.ctx.Err(); err != nil {
				return err
			}
			name := de.Name()
			if w.plan.excluded(p, name) {
				w.stats.Pruned++
				continue
			}
			chp := filepath.Join(hp, name)
			fi, lerr := os.Lstat(chp)
			if lerr != nil {
				w.stats.Vanished++
				continue
			}
			if err := w.emit(policy.WalkEntry{Dir: p, Name: name, Root: root, Depth: depth}, fi); err != nil {
				return err
			}
			if fi.IsDir() && descend {
				if err := w.dir(root, joinPath(p, name), chp, depth+1); err != nil {
					return err
				}
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				w.stats.Unreadable++
			}
			return nil
		}
	}
}

package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
)

// Helpers shared by the Linux system leaves (sysctl, mount, kernel_module,
// systemd_unit, apparmor, selinux).

// maxConfBytes bounds one configuration file these leaves read.
const maxConfBytes = 1 << 20

// kernelProbe is the file whose readability tells a running kernel from an
// offline image: on a live Linux machine /proc is mounted and this file
// always exists; an image's /proc (under --root) is empty or absent.
const kernelProbe = "/proc/sys/kernel/osrelease"

// runningKernel reports whether env shows a running kernel (the live
// machine) rather than an offline image. An Env that cannot read files at
// all (stored inventory) is an error.
func runningKernel(ctx context.Context, env Env) (bool, error) {
	_, err := env.ReadFile(ctx, kernelProbe, 4096)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound):
		return false, nil
	case errors.Is(err, ErrUnavailable):
		return false, fmt.Errorf("read %s: %w", kernelProbe, err)
	}
	// Unreadable for another reason (permissions, not a regular file):
	// no usable running kernel here either.
	return false, nil
}

// noKernel is the evidence for a part skipped in an offline image.
const noKernel = "no running kernel (" + kernelProbe + " not readable: offline image)"

// confFile is one configuration file that takes part after masking.
type confFile struct {
	name string // base name, the sort key
	path string // where it was found
	// masked: linked to /dev/null (or empty), which hides the same
	// name in later directories and contributes nothing; how says which.
	masked bool
	how    string
}

// dropIns is what listing configuration directories found.
type dropIns struct {
	// files holds one entry per name, masks included, sorted by name.
	files []confFile
	// hidden maps a winning path to the same-named files of lower
	// directories it hides, in directory order.
	hidden map[string][]string
	// ignored says which entries took no part and why (dangling links,
	// entries that are not regular files); they hide nothing.
	ignored []string
}

// dropInFiles lists the files matching glob (like "*.conf") in dirs,
// highest priority first, the way systemd's configuration loader (and
// kmod's, which follows it) does: a file name in an earlier directory
// hides the same name in later ones, and the survivors are sorted by name
// regardless of directory. /dev/null (a symbolic link to it, or any
// device) and empty files are masks: they hide the name and contribute
// nothing. A mask is decided by the link's target path, so it holds in an
// offline image that has no /dev. Entries that are neither masks nor
// regular files (directories, dangling links, sockets) are ignored
// without hiding anything, as systemd ignores what it cannot stat.
func dropInFiles(ctx context.Context, env Env, dirs []string, glob string) (dropIns, error) {
	out := dropIns{hidden: map[string][]string{}}
	won := map[string]string{} // name -> winning path
	for _, dir := range dirs {
		paths, err := env.Glob(ctx, dir+"/"+glob)
		if err != nil {
			return dropIns{}, fmt.Errorf("glob %s/%s: %w", dir, glob, err)
		}
		for _, p := range paths {
			name := path.Base(p)
			if w, ok := won[name]; ok {
				// On a merged /usr, /lib/X is /usr/lib/X: the same file
				// seen twice, not an override.
				if w != "/usr"+p && !slices.Contains(out.hidden[w], "/usr"+p) {
					out.hidden[w] = append(out.hidden[w], p)
				}
				continue
			}
			st, err := statEntry(ctx, env, p)
			if errors.Is(err, ErrNotFound) {
				why := p + " ignored (its target does not exist)"
				if t, ok := linkTarget(ctx, env, p); ok {
					why = p + " ignored (dangling link to " + t + ")"
				}
				out.ignored = append(out.ignored, why)
				continue
			}
			if err != nil {
				return dropIns{}, fmt.Errorf("stat %s: %w", p, err)
			}
			mask, how := isMask(st)
			if !mask && !st.Mode.IsRegular() {
				if !st.Mode.IsDir() {
					out.ignored = append(out.ignored, p+" ignored (not a regular file)")
				}
				continue
			}
			won[name] = p
			out.files = append(out.files, confFile{name: name, path: p, masked: mask, how: how})
		}
	}
	sort.SliceStable(out.files, func(i, j int) bool { return out.files[i].name < out.files[j].name })
	return out, nil
}

// statEntry stats a configuration entry, judging a mask as systemd does:
// by the path a symbolic link names, so that a link to /dev/null masks
// even in an offline image without a /dev/null.
func statEntry(ctx context.Context, env Env, p string) (FileStat, error) {
	if t, ok := linkTarget(ctx, env, p); ok && t == "/dev/null" {
		return FileStat{Mode: fs.ModeDevice | fs.ModeCharDevice}, nil
	}
	return env.Stat(ctx, p)
}

// isMask reports whether st is systemd's mask: /dev/null or an empty file.
func isMask(st FileStat) (bool, string) {
	if st.Mode&fs.ModeCharDevice != 0 || st.Mode&fs.ModeDevice != 0 {
		return true, "linked to /dev/null"
	}
	if st.Mode.IsRegular() && st.Size == 0 {
		return true, "empty"
	}
	return false, ""
}

// readConf reads one configuration file within maxConfBytes.
func readConf(ctx context.Context, env Env, p string) (string, error) {
	data, err := env.ReadFile(ctx, p, maxConfBytes)
	if errors.Is(err, ErrFileTooLarge) {
		return "", fmt.Errorf("%s: file too large (over %d bytes)", p, maxConfBytes)
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return string(data), nil
}

// linkTarget resolves a symbolic link at p one step, to an absolute path,
// when env can look at links; ok is false when p is not a link or env
// cannot tell.
func linkTarget(ctx context.Context, env Env, p string) (string, bool) {
	le, isLE := env.(LinkEnv)
	if !isLE {
		return "", false
	}
	st, err := le.Lstat(ctx, p)
	if err != nil || st.Mode&fs.ModeSymlink == 0 {
		return "", false
	}
	t, err := le.Readlink(ctx, p)
	if err != nil {
		return "", false
	}
	if !strings.HasPrefix(t, "/") {
		t = path.Join(path.Dir(p), t)
	}
	return path.Clean(t), true
}

// skipOrFail combines a leaf's parts: each is passed, detail, or skipped
// (with a reason). When every requested part was skipped the leaf cannot
// answer: an error wrapping ErrUnavailable.
type parts struct {
	details []string
	failed  bool
	judged  int
	skipped []string
}

func (p *parts) judge(ok bool, detail string) {
	p.judged++
	if !ok {
		p.failed = true
	}
	p.details = append(p.details, detail)
}

// note adds a detail that judges nothing (a drop-in that was ignored).
func (p *parts) note(detail string) {
	p.details = append(p.details, detail)
}

func (p *parts) skip(what string) {
	p.skipped = append(p.skipped, what)
	p.details = append(p.details, what+": skipped, "+noKernel)
}

func (p *parts) result() (bool, string, error) {
	detail := strings.Join(p.details, "; ")
	if p.judged == 0 && len(p.skipped) > 0 {
		return false, detail, fmt.Errorf("%w: %s needs a running kernel", ErrUnavailable, strings.Join(p.skipped, ", "))
	}
	return !p.failed, detail, nil
}

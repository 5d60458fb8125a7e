package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
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
	// name in later directories and contributes nothing.
	masked bool
}

// dropInFiles lists the files matching glob (like "*.conf") in dirs, the
// way systemd's and kmod's configuration loaders do: a file name in an
// earlier directory hides the same name in later ones, and the survivors
// are sorted by name regardless of directory. Files that are /dev/null
// (a symlink to it, or any character device) or empty are masks.
func dropInFiles(ctx context.Context, env Env, dirs []string, glob string) ([]confFile, error) {
	seen := map[string]bool{}
	var out []confFile
	for _, dir := range dirs {
		paths, err := env.Glob(ctx, dir+"/"+glob)
		if err != nil {
			return nil, fmt.Errorf("glob %s/%s: %w", dir, glob, err)
		}
		for _, p := range paths {
			name := path.Base(p)
			if seen[name] {
				continue
			}
			st, err := env.Stat(ctx, p)
			if errors.Is(err, ErrNotFound) { // dangling link: nothing there
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("stat %s: %w", p, err)
			}
			if st.Mode.IsDir() {
				continue
			}
			seen[name] = true
			masked := st.Mode&fs.ModeCharDevice != 0 || st.Mode&fs.ModeDevice != 0 || (st.Mode.IsRegular() && st.Size == 0)
			out = append(out, confFile{name: name, path: p, masked: masked})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
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

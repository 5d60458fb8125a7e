package collect

import (
	"bytes"
	"strings"
)

// mount is one line of /proc/self/mountinfo (see proc(5)).
type mount struct {
	id, parent string // mount ids
	devID      string // major:minor
	root       string // the subtree of the file system mounted here
	mountPoint string
	readOnly   bool
	fsType     string
	source     string
	// vfsOptions are the per-mount options, superOptions the file
	// system's own (fields 6 and 11 of the line).
	vfsOptions, superOptions string
}

// parseMountinfo skips malformed lines: the kernel writes this file, and a
// line we cannot read says nothing about the others.
func parseMountinfo(data []byte) []mount {
	var out []mount
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		f := strings.Fields(string(line))
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			continue
		}
		m := mount{
			id:         f[0],
			parent:     f[1],
			devID:      f[2],
			root:       unescapeMount(f[3]),
			mountPoint: unescapeMount(f[4]),
			readOnly:   hasOption(f[5], "ro"),
			fsType:     f[sep+1],
			source:     unescapeMount(f[sep+2]),
			vfsOptions: f[5],
		}
		if sep+3 < len(f) {
			m.superOptions = f[sep+3]
		}
		out = append(out, m)
	}
	return out
}

// options returns m's effective options as findmnt's OPTIONS column shows
// them (libmount merges the per-mount options with the super block's): the
// per-mount options in order, then each super option not yet listed, with
// the super block's rw/ro dropped since the per-mount one decides.
func (m mount) options() []string {
	var out []string
	seen := make(map[string]bool)
	add := func(opts string, super bool) {
		for o := range strings.SplitSeq(opts, ",") {
			if o == "" || seen[o] || super && (o == "rw" || o == "ro") {
				continue
			}
			seen[o] = true
			out = append(out, hideSecretOption(unescapeMount(o)))
		}
	}
	add(m.vfsOptions, false)
	add(m.superOptions, true)
	return out
}

// visible returns the mounts not hidden by a later mount on the same
// mount point (an over-mount), keeping their order. The kernel lists an
// over-mount after the mount it covers, with that mount as its parent.
func visible(mounts []mount) []mount {
	covered := make(map[string]bool)
	byID := make(map[string]mount, len(mounts))
	for _, m := range mounts {
		byID[m.id] = m
	}
	for _, m := range mounts {
		if p, ok := byID[m.parent]; ok && p.id != m.id && p.mountPoint == m.mountPoint {
			covered[p.id] = true
		}
	}
	out := make([]mount, 0, len(mounts))
	for _, m := range mounts {
		if !covered[m.id] {
			out = append(out, m)
		}
	}
	return out
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// unescapeMount undoes the kernel's octal escapes (\040 for space, \011,
// \012, \134) in mountinfo paths.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// secretOptions are option names whose values are credentials. The
// kernel already hides most of them in mountinfo (cifs leaves the password
// out, ceph prints secret=<hidden>); a FUSE or out-of-tree file system may
// not, and the inventory goes to the server.
var secretOptions = map[string]bool{"password": true, "pass": true, "passwd": true, "secret": true, "credentials": true}

// hideSecretOption replaces the value of a credential option with
// "<hidden>".
func hideSecretOption(o string) string {
	if name, _, ok := strings.Cut(o, "="); ok && secretOptions[strings.ToLower(name)] {
		return name + "=<hidden>"
	}
	return o
}

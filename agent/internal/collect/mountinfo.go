package collect

import (
	"bytes"
	"strings"
)

// mount is one line of /proc/self/mountinfo (see proc(5)).
type mount struct {
	devID      string // major:minor
	root       string // the subtree of the file system mounted here
	mountPoint string
	readOnly   bool
	fsType     string
	source     string
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
		out = append(out, mount{
			devID:      f[2],
			root:       unescapeMount(f[3]),
			mountPoint: unescapeMount(f[4]),
			readOnly:   hasOption(f[5], "ro"),
			fsType:     f[sep+1],
			source:     unescapeMount(f[sep+2]),
		})
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

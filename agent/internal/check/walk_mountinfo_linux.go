package check

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

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

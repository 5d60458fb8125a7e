package collect

import (
	"bufio"
	"bytes"
	"strings"
)

// parseOSRelease reads the os-release(5) format: KEY=value lines, values
// optionally in single or double quotes with backslash escapes, # comments.
func parseOSRelease(data []byte) map[string]string {
	out := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(key)] = unquoteShell(strings.TrimSpace(val))
	}
	return out
}

// unquoteShell undoes the shell-style quoting os-release allows. Within
// double quotes a backslash escapes $ " \ and `; within single quotes
// nothing is special.
func unquoteShell(v string) string {
	if len(v) < 2 {
		return v
	}
	switch q := v[0]; {
	case q == '\'' && v[len(v)-1] == '\'':
		return v[1 : len(v)-1]
	case q == '"' && v[len(v)-1] == '"':
		v = v[1 : len(v)-1]
		if !strings.Contains(v, `\`) {
			return v
		}
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("$\"\\`", v[i+1]) >= 0 {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

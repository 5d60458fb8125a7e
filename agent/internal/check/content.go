package check

import (
	"bytes"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/steward-project/steward/shared/policy"
)

// MayQuote decides what policy evidence may quote (policy.ContentGate).
// Evidence goes to the server, so whoever runs the server must not be
// able to read secrets off endpoints by writing policies:
//
//   - Content holding private key material is never quoted, whatever
//     its source (see holdsPrivateKey).
//   - A file's lines are quoted only when its real path (symbolic links
//     resolved) matches an evidence_content entry of the local config.
//     /etc/shadow, /etc/gshadow, their "-" backups and
//     /etc/security/opasswd must be named by an entry exactly, not by a
//     wildcard. Files under /proc/<pid>/ (and /proc/self/,
//     /proc/thread-self/) and SSH host private keys are never quoted.
//   - A registry value is quoted only when KEY\value matches an entry.
//   - Command output is quoted: commands run only where the local config
//     sets allow_commands, which already lets policies run any program.
func (e *liveEnv) MayQuote(kind policy.ContentKind, name string, data []byte) bool {
	if holdsPrivateKey(data) {
		return false
	}
	switch kind {
	case policy.ContentCommand:
		return true
	case policy.ContentRegistry:
		return matchAny(e.evidenceContent, name, false)
	case policy.ContentFile:
		real, ok := e.realPath(name)
		if !ok || neverQuoted(cleanAbs(name)) || neverQuoted(real) {
			return false
		}
		return matchAny(e.evidenceContent, real, exactOnly(real))
	}
	return false
}

// realPath is p on the checked system with every symbolic link resolved
// (under the root, against the root).
func (e *liveEnv) realPath(p string) (string, bool) {
	if e.root == "" {
		real, err := filepath.EvalSymlinks(cleanAbs(p))
		return real, err == nil
	}
	hp, err := e.hostPath(p)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(e.root, hp)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return cleanAbs(rel), true
}

// privateKeyMarkers begin private keys in the usual text encodings: PEM
// ("-----BEGIN RSA PRIVATE KEY-----", "... OPENSSH PRIVATE KEY-----",
// "... ENCRYPTED PRIVATE KEY-----", ...) and PuTTY's key files.
var privateKeyMarkers = [][]byte{[]byte("PRIVATE KEY-----"), []byte("PuTTY-User-Key-File-")}

// holdsPrivateKey reports whether data holds a private key anywhere: then
// none of it is quoted, not even lines far from the key.
func holdsPrivateKey(data []byte) bool {
	for _, m := range privateKeyMarkers {
		if bytes.Contains(data, m) {
			return true
		}
	}
	return false
}

// neverQuoted reports the paths whose content is never quoted, even when
// an evidence_content entry matches them: process memory images,
// command lines and environments (which carry passwords and tokens), and
// SSH host private keys.
func neverQuoted(p string) bool {
	if runtime.GOOS == "windows" {
		return false
	}
	if rest, ok := strings.CutPrefix(p, "/proc/"); ok {
		first, _, _ := strings.Cut(rest, "/")
		if first == "self" || first == "thread-self" || isDigits(first) {
			return true
		}
	}
	if dir, file := filepath.Split(p); dir == "/etc/ssh/" &&
		strings.HasPrefix(file, "ssh_host_") && strings.HasSuffix(file, "_key") {
		return true
	}
	return false
}

// exactOnly reports the files that evidence_content must name exactly:
// password and group hashes.
func exactOnly(p string) bool {
	switch p {
	case "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/security/opasswd":
		return runtime.GOOS != "windows"
	}
	return false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// matchAny reports whether name matches one of the evidence_content
// patterns: a filepath.Match glob, or one ending in ** that takes every
// path below its directory; exact requires a pattern equal to name.
// Windows compares without regard to case.
func matchAny(patterns []string, name string, exact bool) bool {
	fold := func(s string) string { return s }
	if runtime.GOOS == "windows" {
		fold = strings.ToLower
	}
	name = fold(name)
	for _, pat := range patterns {
		pat = fold(pat)
		if exact {
			if filepath.Clean(pat) == name {
				return true
			}
			continue
		}
		if dir, ok := strings.CutSuffix(pat, "**"); ok {
			dir = strings.TrimRight(dir, `/\`)
			if dir == "" || filepath.VolumeName(dir) == dir {
				return true // "/**": everything (still not what is never quoted)
			}
			// Every proper ancestor of name is tried against the directory glob.
			for d := filepath.Dir(name); d != filepath.Dir(d); d = filepath.Dir(d) {
				if ok, _ := filepath.Match(dir, d); ok {
					return true
				}
			}
			continue
		}
		if ok, _ := filepath.Match(pat, name); ok {
			return true
		}
	}
	return false
}

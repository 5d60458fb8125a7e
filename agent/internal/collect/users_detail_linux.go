package collect

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/steward-project/steward/shared/inventory"
)

// parseGroups returns the groups in group(5) format (name:password:GID:
// members) in file order. Comments, NIS compat lines ("+", "-") and
// malformed lines are skipped; a name listed twice keeps its first line,
// as getgrnam does.
func parseGroups(data []byte) []inventory.Group {
	var out []inventory.Group
	seen := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20) // member lists can be long
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 4 || f[0] == "" || seen[f[0]] {
			continue
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		seen[f[0]] = true
		g := inventory.Group{Name: f[0], GID: strconv.FormatUint(gid, 10)}
		for m := range strings.SplitSeq(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				g.Members = append(g.Members, m)
			}
		}
		out = append(out, g)
	}
	return out
}

// passwordOf returns an account's password state and aging. pam_unix
// takes the hash from the passwd field unless that field is "x", in which
// case it reads shadow; so does this. With "x" and no shadow entry (or no
// readable shadow) nothing is known and nil is returned.
func passwordOf(a passwdEntry, shadow map[string]shadowEntry, shadowRead bool) *inventory.Password {
	if a.passwd != "x" {
		return &inventory.Password{State: passwordState(a.passwd)}
	}
	s, ok := shadow[a.name]
	if !shadowRead || !ok {
		return nil
	}
	return &inventory.Password{
		State:      passwordState(s.password),
		LastChange: s.aging[0],
		MinDays:    s.aging[1],
		MaxDays:    s.aging[2],
		WarnDays:   s.aging[3],
		Inactive:   s.aging[4],
		Expire:     s.aging[5],
	}
}

// cryptPrefixes name the hashing methods by the prefix crypt(3) writes
// (libxcrypt's crypt(5)); longer prefixes come first.
var cryptPrefixes = []struct{ prefix, method string }{
	{"$gy$", "gost-yescrypt"},
	{"$y$", "yescrypt"},
	{"$7$", "scrypt"},
	{"$2b$", "bcrypt"}, {"$2a$", "bcrypt"}, {"$2x$", "bcrypt"}, {"$2y$", "bcrypt"},
	{"$6$", "sha512crypt"},
	{"$5$", "sha256crypt"},
	{"$sha1$", "sha1crypt"},
	{"$md5", "sunmd5"},
	{"$1$", "md5crypt"},
	{"$3$", "nthash"},
}

// passwordState reduces a password field to a state; the hash itself
// never leaves this function. The names are those of the policy engine's
// shadow leaf, so that a state reads the same in both. shadow(5): a field starting with "!" is
// locked (what follows is the old field), an empty field needs no
// password, and anything that is not a crypt(3) result ("*", "!!" aside)
// lets no password match.
func passwordState(field string) string {
	switch {
	case field == "":
		return inventory.PasswordEmpty
	case field[0] == '!':
		return inventory.PasswordLocked
	}
	for _, p := range cryptPrefixes {
		if strings.HasPrefix(field, p.prefix) {
			return inventory.PasswordHashedPrefix + p.method
		}
	}
	switch {
	case field[0] == '$':
		return inventory.PasswordHashedPrefix + "unknown"
	case len(field) == 20 && field[0] == '_' && cryptChars(field[1:]):
		return inventory.PasswordHashedPrefix + "bsdicrypt"
	case len(field) == 13 && cryptChars(field):
		return inventory.PasswordHashedPrefix + "des"
	}
	return inventory.PasswordNone
}

// cryptChars reports whether s uses only crypt's base-64 alphabet.
func cryptChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '/' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// setHome fills the home directory fields of u. An empty or relative home
// is not looked at.
func setHome(cfg Config, u *inventory.User) {
	if !strings.HasPrefix(u.Home, "/") {
		return
	}
	name, err := resolveInRoot(cfg.Root, u.Home)
	var fi fs.FileInfo
	if err == nil {
		fi, err = os.Stat(name)
	}
	exists := err == nil && fi.IsDir()
	u.HomeExists = &exists
	if !exists {
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		u.HomeUID = strconv.FormatUint(uint64(st.Uid), 10)
		u.HomeGID = strconv.FormatUint(uint64(st.Gid), 10)
		u.HomeMode = fmt.Sprintf("%04o", st.Mode&0o7777)
	}
}

// maxLinks is the number of symbolic links followed in one path, as the
// kernel's (MAXSYMLINKS, 40).
const maxLinks = 40

// errTooManyLinks stops a path that loops through symbolic links.
var errTooManyLinks = errors.New("too many levels of symbolic links")

// resolveInRoot returns the host path of name (absolute on the inspected
// system) with every symbolic link resolved inside root, so that an
// absolute link in an image (/home -> /srv/home) points into the image,
// not at the machine running the agent. For root "/" it is name.
func resolveInRoot(root, name string) (string, error) {
	if filepath.Clean(root) == "/" {
		return name, nil
	}
	links := 0
	resolved := "/"
	rest := strings.Split(strings.Trim(path.Clean(name), "/"), "/")
	for len(rest) > 0 {
		part := rest[0]
		rest = rest[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, part)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if links++; links > maxLinks {
			return "", errTooManyLinks
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			resolved = "/"
		}
		rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
	}
	return filepath.Join(root, resolved), nil
}

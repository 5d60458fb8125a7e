package collect

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// The "users" section lists the accounts in /etc/passwd. Accounts that only
// a directory service knows (LDAP, SSSD, nss-systemd's dynamic users) are
// left out on purpose: they are not local, and they come and go with the
// network. The rules:
//
//   - Admin: uid 0, or a member of sudo, wheel or admin, either listed in
//     /etc/group or through the account's primary group.
//   - System: uid below UID_MIN from /etc/login.defs (1000 when unset), or a
//     login shell of nologin or false. uid 0 never is: root is the admin
//     account people log in as, and flagging it as a service account
//     would hide it from the reports that matter.
//   - Disabled: the account has expired (shadow field 8, as shadow's own
//     isexpired reads it), or, for accounts that are not system accounts,
//     the shadow password starts with '!' or '*' (locked, or no password
//     can match; `passwd -S` shows both as L). System accounts always carry
//     '*', so flagging them would say nothing. When /etc/shadow cannot be
//     read (the agent runs unprivileged) nothing is flagged.
//   - GID and Group: the passwd gid and the first /etc/group line with it
//     (getgrgid returns the first match). Groups lists /etc/group, the
//     file NSS and the kernel's supplementary groups come from; gshadow
//     is not read: its member list only matters to newgrp with a group
//     password, and it is readable by root alone.
//   - Home*: a stat of the home directory, links followed (inside Root
//     for an offline root); HomeExists is false when it is missing or not
//     a directory, and absent for an empty or relative home.
//   - Password: from the passwd field, or from shadow when it is "x", as
//     pam_unix decides; the hash is reduced to its method.
//   - LastLogin: from /var/log/lastlog, one fixed-size record per uid,
//     read with one pread per account. Debian 13's lastlog2 keeps its data
//     in SQLite, which the agent does not link; there it is left out.

// adminGroups are the groups whose members may become root through sudo
// or su on the distributions Steward supports.
var adminGroups = map[string]bool{"sudo": true, "wheel": true, "admin": true}

// defaultUIDMin is shadow's default UID_MIN when login.defs does not set it.
const defaultUIDMin = 1000

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name, passwd, gecos, home, shell string
	uid, gid                         uint64
}

func collectUsers(ctx context.Context, cfg Config) (any, error) {
	data, err := os.ReadFile(cfg.path("/etc/passwd"))
	if err != nil {
		return nil, fmt.Errorf("read passwd: %w", err)
	}
	accounts := parsePasswd(data)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	groupData, _ := os.ReadFile(cfg.path("/etc/group")) // no group file: no admin groups
	adminGIDs, adminNames := parseAdminGroups(groupData)
	groups := parseGroups(groupData)
	groupName := make(map[string]string, len(groups))
	for _, g := range groups {
		if _, dup := groupName[g.GID]; !dup {
			groupName[g.GID] = g.Name
		}
	}
	shadowData, shadowErr := os.ReadFile(cfg.path("/etc/shadow")) // unreadable when unprivileged
	shadow := parseShadow(shadowData)
	loginDefs, _ := os.ReadFile(cfg.path("/etc/login.defs"))
	uidMin := parseUIDMin(loginDefs)
	lastlog := openLastlog(cfg.path("/var/log/lastlog"), lastlogRecordSize(cfg.kernel.arch()))
	defer lastlog.close()

	today := time.Now().Unix() / 86400
	out := inventory.Users{Users: make([]inventory.User, 0, len(accounts))}
	for _, a := range accounts {
		system := a.uid != 0 && (a.uid < uidMin || noLoginShell(a.shell))
		u := inventory.User{
			Name:      a.name,
			UID:       strconv.FormatUint(a.uid, 10),
			FullName:  strings.TrimSpace(strings.SplitN(a.gecos, ",", 2)[0]),
			Home:      a.home,
			Shell:     a.shell,
			Admin:     a.uid == 0 || adminGIDs[a.gid] || adminNames[a.name],
			System:    system,
			LastLogin: lastlog.lastLogin(a.uid),
		}
		if s, ok := shadow[a.name]; ok {
			expired := s.expireDay > 0 && today >= s.expireDay
			u.Disabled = expired || (!system && s.locked)
		}
		u.GID = strconv.FormatUint(a.gid, 10)
		u.Group = groupName[u.GID]
		setHome(cfg, &u)
		u.Password = passwordOf(a, shadow, shadowErr == nil)
		out.Users = append(out.Users, u)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out.Users, func(a, b inventory.User) int { return strings.Compare(a.Name, b.Name) })
	out.Groups = groups
	return out, nil
}

// parsePasswd returns the accounts in passwd(5) format. Comments, NIS
// compat lines ("+", "-") and malformed lines are skipped; a name listed
// twice keeps its first line, as lookups by name do.
func parsePasswd(data []byte) []passwdEntry {
	var out []passwdEntry
	seen := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 7 || f[0] == "" || seen[f[0]] {
			continue
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		seen[f[0]] = true
		out = append(out, passwdEntry{name: f[0], passwd: f[1], uid: uid, gid: gid, gecos: f[4], home: f[5], shell: f[6]})
	}
	return out
}

// userNames maps uids to account names.
func userNames(data []byte) map[uint64]string {
	out := make(map[uint64]string)
	for _, a := range parsePasswd(data) {
		if _, dup := out[a.uid]; !dup {
			out[a.uid] = a.name
		}
	}
	return out
}

// parseAdminGroups returns the gids of the admin groups and their listed
// members.
func parseAdminGroups(data []byte) (map[uint64]bool, map[string]bool) {
	gids, names := make(map[uint64]bool), make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) != 4 || !adminGroups[f[0]] {
			continue
		}
		if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			gids[gid] = true
		}
		for m := range strings.SplitSeq(f[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				names[m] = true
			}
		}
	}
	return gids, names
}

type shadowEntry struct {
	locked    bool
	expireDay int64 // days since 1970-01-01; 0 when the account never expires
	password  string
	// aging holds shadow fields 3 to 8 (last change, min, max, warn,
	// inactive, expire); nil where the field is empty or not a number.
	aging [6]*int64
}

func parseShadow(data []byte) map[string]shadowEntry {
	out := make(map[string]shadowEntry)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ":")
		if len(f) < 8 || f[0] == "" {
			continue
		}
		if _, dup := out[f[0]]; dup {
			continue
		}
		e := shadowEntry{locked: strings.HasPrefix(f[1], "!") || strings.HasPrefix(f[1], "*"), password: f[1]}
		e.expireDay, _ = strconv.ParseInt(f[7], 10, 64)
		for i := range e.aging {
			if v, err := strconv.ParseInt(f[2+i], 10, 64); err == nil {
				e.aging[i] = &v
			}
		}
		out[f[0]] = e
	}
	return out
}

// parseUIDMin reads UID_MIN from login.defs content.
func parseUIDMin(data []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "UID_MIN" {
			if v, err := strconv.ParseUint(f[1], 10, 32); err == nil {
				return v
			}
		}
	}
	return defaultUIDMin
}

func noLoginShell(shell string) bool {
	switch path.Base(shell) {
	case "nologin", "false":
		return true
	}
	return false
}

// lastlogRecordSize is sizeof(struct lastlog) in glibc for the kernel's
// architecture: a time, a 32-byte tty line and a 256-byte host. The time is
// an int32 on architectures that keep 32-bit compatible records
// (__WORDSIZE_TIME64_COMPAT32: x86_64, ppc64, s390x, sparc64, mips64) and
// on 32-bit ones; the 64-bit ports that came later (aarch64, riscv64,
// loongarch64) use a 64-bit time_t.
func lastlogRecordSize(arch string) int64 {
	switch arch {
	case "aarch64", "arm64", "riscv64", "loongarch64":
		return 8 + 32 + 256
	}
	return 4 + 32 + 256
}

// lastlogFile reads login times from a lastlog file. The file is sparse
// (its size is that of the highest uid that ever logged in): a hole or a
// record past the end means the account never logged in.
type lastlogFile struct {
	f       *os.File
	recSize int64
}

func openLastlog(name string, recSize int64) lastlogFile {
	f, err := os.Open(name)
	if err != nil {
		return lastlogFile{} // no lastlog: last login unknown for everyone
	}
	return lastlogFile{f: f, recSize: recSize}
}

func (l lastlogFile) close() {
	if l.f != nil {
		l.f.Close()
	}
}

func (l lastlogFile) lastLogin(uid uint64) time.Time {
	if l.f == nil {
		return time.Time{}
	}
	timeSize := l.recSize - 32 - 256
	var buf [8]byte
	if n, _ := l.f.ReadAt(buf[:timeSize], int64(uid)*l.recSize); int64(n) != timeSize {
		return time.Time{}
	}
	var secs int64
	if timeSize == 4 {
		// Unsigned: the field is an int32 that would wrap in 2038, and no
		// login predates 1970.
		secs = int64(binary.NativeEndian.Uint32(buf[:4]))
	} else {
		secs = int64(binary.NativeEndian.Uint64(buf[:8]))
	}
	if secs <= 0 {
		return time.Time{}
	}
	return time.Unix(secs, 0).UTC()
}

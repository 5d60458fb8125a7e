//go:build !windows

package check

import (
	"bufio"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/steward-project/steward/shared/policy"
)

// fillOwner sets the permissions, owner and group. Names come from the
// checked system's own /etc/passwd and /etc/group (under the root), so an
// image reports its own accounts; on the live machine os/user is asked for
// ids those files lack (macOS keeps most accounts in its directory
// service).
func (e *liveEnv) fillOwner(_ string, fi fs.FileInfo, st *policy.FileStat) {
	st.HasPerm = true
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	st.OwnerID = strconv.FormatUint(uint64(sys.Uid), 10)
	st.GroupID = strconv.FormatUint(uint64(sys.Gid), 10)
	e.accounts.Do(func() {
		e.accountNames = readPasswd(e.accountFile("/etc/passwd"))
		e.groupNames = make(map[string]string)
		for gid, name := range readGroup(e.accountFile("/etc/group")) {
			e.groupNames[strconv.FormatUint(uint64(gid), 10)] = name
		}
	})
	if name, ok := e.groupNames[st.GroupID]; ok {
		st.Group = name
	} else if e.root == "" {
		if g, err := user.LookupGroupId(st.GroupID); err == nil {
			st.Group = g.Name
		}
	}
	if name, ok := e.accountNames[st.OwnerID]; ok {
		st.Owner = name
		return
	}
	if e.root == "" {
		if u, err := user.LookupId(st.OwnerID); err == nil {
			st.Owner = u.Username
		}
	}
}

// statIDs returns the numeric owner and group of fi.
func statIDs(fi fs.FileInfo) (uid, gid uint32, ok bool) {
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return sys.Uid, sys.Gid, true
}

// readPasswd maps uid to account name; the first entry for a uid wins, as
// it does for getpwuid.
func readPasswd(path string) map[string]string {
	names := map[string]string{}
	for id, name := range readIDFile(path) {
		names[strconv.FormatUint(uint64(id), 10)] = name
	}
	return names
}

// readGroup maps gid to group name from a group(5) file; the first entry
// for a gid wins, as it does for getgrgid.
func readGroup(path string) map[uint32]string { return readIDFile(path) }

// readIDFile reads passwd(5) or group(5): name in the first field, the
// numeric id in the third. Comment lines, NIS "+" / "-" entries, and lines
// with too few fields or a non-numeric id are skipped; the first entry
// for an id wins. A missing or unreadable file gives no names.
func readIDFile(path string) map[uint32]string {
	names := map[uint32]string{}
	f, err := os.Open(path)
	if err != nil {
		return names
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-") {
			continue
		}
		fields := strings.SplitN(line, ":", 4)
		if len(fields) < 3 || fields[0] == "" {
			continue
		}
		id, err := strconv.ParseUint(fields[2], 10, 32)
		if err != nil {
			continue
		}
		if _, seen := names[uint32(id)]; !seen {
			names[uint32(id)] = fields[0]
		}
	}
	return names
}

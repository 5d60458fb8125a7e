//go:build !windows

package check

import (
	"bufio"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/steward-project/steward/shared/policy"
)

// fillOwner sets the permissions and owner. Names come from the checked
// system's own /etc/passwd (under the root), so an image reports its own
// accounts; on the live machine os/user is asked for ids passwd lacks
// (macOS keeps most accounts in its directory service).
func (e *liveEnv) fillOwner(_ string, fi fs.FileInfo, st *policy.FileStat) {
	st.HasPerm = true
	sys, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	st.OwnerID = strconv.FormatUint(uint64(sys.Uid), 10)
	e.accounts.Do(func() {
		root := e.root
		if root == "" {
			root = "/"
		}
		e.accountNames = readPasswd(filepath.Join(root, "etc", "passwd"))
	})
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

// readPasswd maps uid to account name; the first entry for a uid wins, as
// it does for getpwuid.
func readPasswd(path string) map[string]string {
	names := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return names
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) < 3 || fields[0] == "" {
			continue
		}
		if _, seen := names[fields[2]]; !seen {
			names[fields[2]] = fields[0]
		}
	}
	return names
}

package check

import (
	"io/fs"

	"golang.org/x/sys/windows"

	"github.com/steward-project/steward/shared/policy"
)

// fillOwner reads the owner from the file's security descriptor. Windows
// permissions are ACLs, not mode bits, so HasPerm stays false and mode_max
// leaves report that instead of judging Go's made-up 0666.
func (e *liveEnv) fillOwner(path string, _ fs.FileInfo, st *policy.FileStat) {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.OWNER_SECURITY_INFORMATION)
	if err != nil {
		return
	}
	sid, _, err := sd.Owner()
	if err != nil || sid == nil {
		return
	}
	st.OwnerID = sid.String()
	if account, domain, _, err := sid.LookupAccount(""); err == nil {
		st.Owner = account
		if domain != "" {
			st.Owner = domain + `\` + account
		}
	}
}

// statIDs: Windows files have no numeric owner and group.
func statIDs(fs.FileInfo) (uid, gid uint32, ok bool) { return 0, 0, false }

// readIDFile: Windows has no passwd or group files.
func readIDFile(string) map[uint32]string { return map[uint32]string{} }

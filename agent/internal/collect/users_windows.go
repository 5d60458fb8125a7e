package collect

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
	winreg "golang.org/x/sys/windows/registry"

	"github.com/steward-project/steward/agent/internal/collect/wininv"
)

// userInfo2 is USER_INFO_2 (lmaccess.h), the NetUserEnum level that has
// the full name, flags and last logon. Go lays the fields out as C does.
type userInfo2 struct {
	name, password       *uint16
	passwordAge, priv    uint32
	homeDir, comment     *uint16
	flags                uint32
	scriptPath           *uint16
	authFlags            uint32
	fullName, usrComment *uint16
	parms, workstations  *uint16
	lastLogon            uint32 // seconds since 1970 UTC, 0 if never
	lastLogoff           uint32
	acctExpires          uint32
	maxStorage           uint32
	unitsPerWeek         uint32
	logonHours           *byte
	badPwCount           uint32
	numLogons            uint32
	logonServer          *uint16
	countryCode          uint32
	codePage             uint32
}

const (
	filterNormalAccount = 0x0002     // FILTER_NORMAL_ACCOUNT: user accounts, not machine trusts
	maxPreferredLength  = 0xFFFFFFFF // MAX_PREFERRED_LENGTH: let the API size the buffer
)

var procNetLocalGroupGetMembers = windows.NewLazySystemDLL("netapi32.dll").NewProc("NetLocalGroupGetMembers")

func collectUsers(_ context.Context, cfg Config) (any, error) {
	if err := liveWindows(cfg); err != nil {
		return nil, err
	}
	accounts, err := localAccounts()
	if err != nil {
		return nil, err
	}
	// Without the membership every admin flag would read false: better no
	// section than a wrong one.
	admins, err := administrators()
	if err != nil {
		return nil, err
	}
	profiles, err := readRegistry(winreg.LOCAL_MACHINE, wininv.ProfileListPath,
		regSpec{values: []string{"ProfileImagePath"}, depth: 1})
	if err != nil {
		cfg.Logger.Debug("profile list unreadable", "err", err)
	}
	return wininv.Users(accounts, admins, wininv.ProfilePaths(profiles, expandEnv)), nil
}

func expandEnv(s string) string {
	if e, err := winreg.ExpandString(s); err == nil {
		return e
	}
	return s
}

// localAccounts lists the local SAM's user accounts. The SID is looked up
// by the machine-qualified name so that a domain account of the same name
// cannot answer instead.
func localAccounts() ([]wininv.Account, error) {
	computer, err := windows.ComputerName()
	if err != nil {
		return nil, fmt.Errorf("computer name: %w", err)
	}
	var out []wininv.Account
	var resume uint32
	for {
		var buf *byte
		var read, total uint32
		err := windows.NetUserEnum(nil, 2, filterNormalAccount, &buf, maxPreferredLength, &read, &total, &resume)
		if err != nil && !errors.Is(err, windows.ERROR_MORE_DATA) {
			return nil, fmt.Errorf("enumerate local users: %w", err)
		}
		if buf != nil {
			for _, u := range unsafe.Slice((*userInfo2)(unsafe.Pointer(buf)), read) {
				a := wininv.Account{
					Name:      windows.UTF16PtrToString(u.name),
					FullName:  windows.UTF16PtrToString(u.fullName),
					Flags:     u.flags,
					LastLogon: wininv.UnixTime(u.lastLogon),
				}
				if sid, _, _, err := windows.LookupSID("", computer+`\`+a.Name); err == nil {
					a.SID = sid.String()
				}
				out = append(out, a)
			}
			windows.NetApiBufferFree(buf)
		}
		if err == nil {
			return out, nil
		}
	}
}

// administrators returns the SIDs of the direct members of the local
// Administrators group, found by its well-known SID because its name is
// localized ("Administratoren", "Administrateurs"). Level 0 returns SIDs
// only, so no member is resolved against a domain controller.
func administrators() ([]string, error) {
	sid, err := windows.StringToSid(wininv.AdministratorsSID)
	if err != nil {
		return nil, err
	}
	group, _, _, err := sid.LookupAccount("")
	if err != nil {
		return nil, fmt.Errorf("administrators group name: %w", err)
	}
	name, err := windows.UTF16PtrFromString(group)
	if err != nil {
		return nil, err
	}
	var out []string
	var resume uintptr // PDWORD_PTR
	for {
		var buf *byte
		var read, total uint32
		r, _, _ := procNetLocalGroupGetMembers.Call(0, uintptr(unsafe.Pointer(name)), 0,
			uintptr(unsafe.Pointer(&buf)), maxPreferredLength,
			uintptr(unsafe.Pointer(&read)), uintptr(unsafe.Pointer(&total)), uintptr(unsafe.Pointer(&resume)))
		status := windows.Errno(r)
		if status != 0 && status != windows.ERROR_MORE_DATA {
			return nil, fmt.Errorf("members of %s: %w", group, status)
		}
		if buf != nil {
			// LOCALGROUP_MEMBERS_INFO_0 is a single PSID.
			for _, m := range unsafe.Slice((**windows.SID)(unsafe.Pointer(buf)), read) {
				out = append(out, m.String())
			}
			windows.NetApiBufferFree(buf)
		}
		if status == 0 {
			return out, nil
		}
	}
}

package wininv

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// Account is one local user account as NetUserEnum (USER_INFO_2) and
// LookupAccountName describe it.
type Account struct {
	Name     string
	SID      string // "S-1-5-21-...-1001"
	FullName string
	// Flags is usri2_flags; UFAccountDisable marks a disabled account.
	Flags uint32
	// LastLogon is usri2_last_logon; zero when the account never logged on
	// (or Windows did not record it).
	LastLogon time.Time
}

// UFAccountDisable is the usri2_flags bit of a disabled account (lmaccess.h).
const UFAccountDisable = 0x0002

// AdministratorsSID is the well-known SID of the local Administrators
// group (BUILTIN\Administrators), whose name is localized.
const AdministratorsSID = "S-1-5-32-544"

// ProfileListPath maps each SID with a profile to its folder
// (ProfileImagePath) on this machine.
const ProfileListPath = `SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList`

// Built-in accounts Windows manages itself and nobody logs on with, by
// relative id: DefaultAccount (503) and WDAGUtilityAccount (504).
var systemRIDs = map[string]bool{"503": true, "504": true}

// Users builds the users section. adminSIDs are the direct members of the
// Administrators group. A local group cannot contain another local group
// and domain groups cannot contain local accounts, so for local accounts
// direct membership is all there is, save through a well-known group
// (Authenticated Users) added to Administrators, which is not expanded.
// profiles maps a SID to its profile folder.
func Users(accounts []Account, adminSIDs []string, profiles map[string]string) inventory.Users {
	admins := make(map[string]bool, len(adminSIDs))
	for _, s := range adminSIDs {
		admins[strings.ToUpper(s)] = true
	}
	out := inventory.Users{Users: []inventory.User{}}
	for _, a := range accounts {
		out.Users = append(out.Users, inventory.User{
			Name:      a.Name,
			UID:       a.SID,
			FullName:  strings.TrimSpace(a.FullName),
			Home:      profiles[strings.ToUpper(a.SID)],
			Admin:     admins[strings.ToUpper(a.SID)],
			System:    systemRIDs[rid(a.SID)],
			Disabled:  a.Flags&UFAccountDisable != 0,
			LastLogin: a.LastLogon.UTC(),
		})
	}
	slices.SortFunc(out.Users, func(a, b inventory.User) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out
}

// rid is the last sub-authority of a SID.
func rid(sid string) string {
	i := strings.LastIndexByte(sid, '-')
	if i < 0 {
		return ""
	}
	if _, err := strconv.ParseUint(sid[i+1:], 10, 32); err != nil {
		return ""
	}
	return sid[i+1:]
}

// ProfilePaths reads ProfileList into SID (upper case) → profile folder.
// ProfileImagePath is a REG_EXPAND_SZ ("%SystemDrive%\Users\alice");
// expand resolves environment references the way the live system would.
func ProfilePaths(profileList *Key, expand func(string) string) map[string]string {
	out := make(map[string]string)
	for _, k := range profileList.Subkeys() {
		if p := k.String("ProfileImagePath"); p != "" {
			out[strings.ToUpper(k.Name)] = expand(p)
		}
	}
	return out
}

// UnixTime converts a NetAPI time (seconds since 1970 UTC, 0 for never).
func UnixTime(secs uint32) time.Time {
	if secs == 0 {
		return time.Time{}
	}
	return time.Unix(int64(secs), 0).UTC()
}

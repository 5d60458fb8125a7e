package macinv

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// dslocal is the local directory node: one binary plist per record, each
// attribute an array of values. Its folders are readable by root only.
const dslocal = "/private/var/db/dslocal/nodes/Default"

// dsUser is a user record's attributes that the inventory needs.
type dsUser struct {
	Name     []string `plist:"name"`
	UID      []string `plist:"uid"`
	RealName []string `plist:"realname"`
	Home     []string `plist:"home"`
	Shell    []string `plist:"shell"`
	GUID     []string `plist:"generateduid"`
	Passwd   []string `plist:"passwd"`
	AuthAuth []string `plist:"authentication_authority"`
}

// dsGroup is a group record's membership: short names in users and the
// members' generateduid values in groupmembers. Directory Utility and
// dseditgroup keep both; older tools wrote only one.
type dsGroup struct {
	Users   []string `plist:"users"`
	Members []string `plist:"groupmembers"`
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return strings.TrimSpace(v[0])
}

// Users is the users section, read from the local directory node. Admin is
// membership of the admin group, by name or by generated UID (nested groups
// are not expanded), or uid 0. System marks Apple's service accounts: a
// name starting with "_" or a uid below 500, where macOS starts numbering
// people (root, uid 0, is not one of them). Disabled is an account that
// cannot log in with a password: marked ";DisabledUser;" in its
// authentication authority or, for accounts that are not service accounts,
// with passwd "*" (how macOS ships root).
// Last login is left empty: macOS keeps it only in the unified log and the
// accounting files that last(1) reads slowly.
func (s System) Users(ctx context.Context) (inventory.Users, error) {
	recs, err := s.userRecords(ctx)
	if err != nil {
		return inventory.Users{}, err
	}
	var admin dsGroup
	if err := readPlist(s.path(dslocal+"/groups/admin.plist"), &admin); err != nil {
		s.log().Debug("admin group unreadable", "err", err)
	}
	out := inventory.Users{Users: make([]inventory.User, 0, len(recs))}
	for _, r := range recs {
		u := r.user()
		u.Admin = u.UID == "0" || slices.Contains(admin.Users, u.Name) ||
			(first(r.GUID) != "" && slices.ContainsFunc(admin.Members, func(g string) bool {
				return strings.EqualFold(g, first(r.GUID))
			}))
		out.Users = append(out.Users, u)
	}
	slices.SortFunc(out.Users, func(a, b inventory.User) int {
		return cmp.Compare(a.Name, b.Name)
	})
	return out, nil
}

func (r dsUser) user() inventory.User {
	u := inventory.User{
		Name:     first(r.Name),
		UID:      first(r.UID),
		FullName: first(r.RealName),
		Home:     first(r.Home),
		Shell:    first(r.Shell),
	}
	uid, err := strconv.Atoi(u.UID)
	u.System = strings.HasPrefix(u.Name, "_") || (err == nil && uid != 0 && uid < 500)
	// Every service account has passwd "*"; flagging them all would say
	// nothing, as on Linux.
	u.Disabled = (!u.System && first(r.Passwd) == "*") || slices.ContainsFunc(r.AuthAuth, func(a string) bool {
		return strings.Contains(a, ";DisabledUser;")
	})
	return u
}

// userRecords reads every user record, skipping files that do not decode
// (and logging them) rather than losing the section to one bad record.
func (s System) userRecords(ctx context.Context) ([]dsUser, error) {
	dir := dslocal + "/users"
	entries, err := os.ReadDir(s.path(dir))
	if err != nil {
		return nil, fmt.Errorf("read local directory users: %w", err)
	}
	var out []dsUser
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".plist") {
			continue
		}
		p := path.Join(dir, e.Name())
		var r dsUser
		if err := readPlist(s.path(p), &r); err != nil {
			s.log().Debug("skip user record", "path", p, "err", err)
			continue
		}
		if first(r.Name) == "" {
			r.Name = []string{strings.TrimSuffix(e.Name(), ".plist")}
		}
		out = append(out, r)
	}
	return out, nil
}

// Home is a local user's home folder.
type Home struct {
	User string
	UID  string // "" when only the folder is known
	Path string // absolute on the inspected system
}

// Homes lists the home folders of people (not service accounts) and root,
// whose Applications and LaunchAgents folders belong in the inventory. The
// local directory needs root to read; without it the folders under /Users
// stand in, which is where macOS puts every home it creates.
func (s System) Homes(ctx context.Context) []Home {
	recs, err := s.userRecords(ctx)
	if err != nil {
		s.log().Debug("homes from /Users", "err", err)
		return s.usersFolder()
	}
	var out []Home
	for _, r := range recs {
		u := r.user()
		if (u.System && u.UID != "0") || !usableHome(u.Home) {
			continue
		}
		out = append(out, Home{User: u.Name, UID: u.UID, Path: u.Home})
	}
	slices.SortFunc(out, func(a, b Home) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

// usableHome rejects the placeholders service accounts get instead of a
// home, and homes on other machines (an unmounted network home).
func usableHome(h string) bool {
	switch {
	case h == "" || h == "/var/empty" || h == "/dev/null" || h == "/":
		return false
	case strings.HasPrefix(h, "/Network/"):
		return false
	}
	return path.IsAbs(h)
}

func (s System) usersFolder() []Home {
	entries, err := os.ReadDir(s.path("/Users"))
	if err != nil {
		return nil
	}
	var out []Home
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "Shared" || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		out = append(out, Home{User: e.Name(), Path: path.Join("/Users", e.Name())})
	}
	return out
}

// HomePaths returns the paths of homes.
func HomePaths(homes []Home) []string {
	out := make([]string, len(homes))
	for i, h := range homes {
		out[i] = h.Path
	}
	return out
}

package wininv

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// localUser is Get-LocalUser | Select Name,SID,FullName,Enabled,LastLogon | ConvertTo-Json.
type localUser struct {
	Name, FullName string
	SID            psSID
	Enabled        bool
	LastLogon      psTime
}

// groupMember is Get-LocalGroupMember -SID S-1-5-32-544 | Select Name,SID,PrincipalSource,ObjectClass | ConvertTo-Json.
type groupMember struct {
	Name string
	SID  psSID
}

// psTime reads a DateTime as ConvertTo-Json writes it: "/Date(ms)/" in
// Windows PowerShell 5.1, ISO 8601 in PowerShell 7, null for none.
type psTime time.Time

func (p *psTime) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := parsePSTime(s)
	*p = psTime(t)
	return err
}

func parsePSTime(s *string) (time.Time, error) {
	if s == nil || *s == "" {
		return time.Time{}, nil
	}
	if ms, ok := strings.CutPrefix(*s, "/Date("); ok {
		ms = strings.TrimSuffix(ms, ")/")
		n, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("date %q: %w", *s, err)
		}
		return time.UnixMilli(n).UTC(), nil
	}
	return time.Parse(time.RFC3339Nano, *s)
}

func TestParsePSTime(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		in   *string
		want time.Time
	}{
		{nil, time.Time{}},
		{str("/Date(1706087412000)/"), time.Date(2024, 1, 24, 9, 10, 12, 0, time.UTC)},
		{str("2024-01-24T10:10:12.0000000+01:00"), time.Date(2024, 1, 24, 9, 10, 12, 0, time.UTC)},
	} {
		got, err := parsePSTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parsePSTime(%v) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// expandSystemDrive stands in for ExpandEnvironmentStrings on a machine
// whose system drive is C:.
func expandSystemDrive(s string) string {
	return strings.NewReplacer("%SystemDrive%", "C:", "%systemroot%", `C:\WINDOWS`).Replace(s)
}

func TestUsersFixture(t *testing.T) {
	var accounts []Account
	for _, u := range readJSON[localUser](t, "localusers.json") {
		a := Account{Name: u.Name, SID: string(u.SID), FullName: u.FullName, LastLogon: time.Time(u.LastLogon)}
		if !u.Enabled {
			a.Flags |= UFAccountDisable
		}
		accounts = append(accounts, a)
	}
	var admins []string
	for _, m := range readJSON[groupMember](t, "administrators.json") {
		admins = append(admins, string(m.SID))
	}
	profiles := ProfilePaths(loadReg(t, "profilelist.reg").Lookup(`HKEY_LOCAL_MACHINE\`+ProfileListPath), expandSystemDrive)
	got := Users(accounts, admins, profiles)
	checkGolden(t, "users", got)

	byName := map[string]int{}
	for i, u := range got.Users {
		byName[u.Name] = i
	}
	check := func(name string, f func(i int) bool, what string) {
		t.Run(name+" "+what, func(t *testing.T) {
			i, ok := byName[name]
			if !ok {
				t.Fatal("missing")
			}
			if !f(i) {
				t.Errorf("got %+v", got.Users[i])
			}
		})
	}
	check("itadmin", func(i int) bool { return got.Users[i].Admin && !got.Users[i].Disabled }, "is an enabled admin")
	check("Administrator", func(i int) bool { return got.Users[i].Admin && got.Users[i].Disabled }, "is a disabled admin")
	check("alice", func(i int) bool {
		a := got.Users[i]
		return !a.Admin && a.Home == `C:\Users\alice` && a.FullName == "Alice Meyer" &&
			a.LastLogin.Equal(time.Date(2024, 1, 24, 9, 10, 12, 0, time.UTC)) &&
			a.UID == "S-1-5-21-3623811015-3361044348-30300820-1001"
	}, "is a plain user with profile and last logon")
	check("bob", func(i int) bool { return got.Users[i].Home == `C:\Users\bob` && got.Users[i].FullName == "Bob Schulz" },
		"has an expanded profile path and trimmed full name")
	check("DefaultAccount", func(i int) bool { return got.Users[i].System && got.Users[i].Home == "" }, "is a system account")
	check("WDAGUtilityAccount", func(i int) bool { return got.Users[i].System }, "is a system account")
	check("Guest", func(i int) bool { return !got.Users[i].System && got.Users[i].LastLogin.IsZero() }, "is not a system account")
	t.Run("domain group members are not users", func(t *testing.T) {
		if len(got.Users) != 7 {
			t.Errorf("got %d users, want the 7 local accounts", len(got.Users))
		}
	})
}

func TestRID(t *testing.T) {
	for in, want := range map[string]string{
		"S-1-5-21-1-2-3-503": "503", "S-1-5-18": "18", "S-1-5-21-1-2-3-x": "", "": "",
	} {
		if got := rid(in); got != want {
			t.Errorf("rid(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnixTime(t *testing.T) {
	if !UnixTime(0).IsZero() {
		t.Error("0 is not the zero time")
	}
	if got := UnixTime(1706087412); !got.Equal(time.Date(2024, 1, 24, 9, 10, 12, 0, time.UTC)) {
		t.Errorf("got %v", got)
	}
}

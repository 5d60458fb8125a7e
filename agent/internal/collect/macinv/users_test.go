package macinv

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestUsersGolden(t *testing.T) {
	got, err := System{Root: fixtureRoot(t)}.Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "users.json", got)
}

func TestUsersFlags(t *testing.T) {
	got, err := System{Root: fixtureRoot(t)}.Users(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type flags struct{ admin, system, disabled bool }
	want := map[string]flags{
		"root":         {admin: true, disabled: true}, // uid 0, passwd "*"
		"alice":        {admin: true},                 // in the users list (and by lower-case GUID)
		"bob":          {admin: true},                 // only by generated UID
		"carol":        {disabled: true},              // ;DisabledUser;
		"daemon":       {system: true},                // uid 1
		"nobody":       {system: true},                // uid -2
		"_mbsetupuser": {system: true},                // leading underscore
		"_spotlight":   {system: true},
	}
	names := []string{}
	for _, u := range got.Users {
		names = append(names, u.Name)
		w, ok := want[u.Name]
		if !ok {
			t.Errorf("unexpected user %q", u.Name)
			continue
		}
		if g := (flags{u.Admin, u.System, u.Disabled}); g != w {
			t.Errorf("%s: admin/system/disabled = %+v, want %+v", u.Name, g, w)
		}
	}
	if !slices.IsSorted(names) || len(names) != len(want) {
		t.Errorf("users %v: want all %d, sorted (the undecodable record skipped)", names, len(want))
	}
}

func TestUsersWithoutDirectory(t *testing.T) {
	// dslocal is root's alone; an unprivileged reader gets an error, which
	// must reach the section rather than an empty list.
	if _, err := (System{Root: t.TempDir()}).Users(context.Background()); err == nil {
		t.Fatal("Users on a tree without dslocal: no error")
	}
}

func TestHomes(t *testing.T) {
	root := fixtureRoot(t)
	got := System{Root: root}.Homes(context.Background())
	want := []Home{
		{User: "alice", UID: "501", Path: "/Users/alice"},
		{User: "bob", UID: "502", Path: "/Users/bob"},
		{User: "carol", UID: "503", Path: "/Users/carol"},
		{User: "root", UID: "0", Path: "/var/root"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Homes = %+v\nwant %+v", got, want)
	}

	// Without the local directory the folders in /Users stand in.
	if err := os.RemoveAll(filepath.Join(root, dslocal)); err != nil {
		t.Fatal(err)
	}
	got = System{Root: root}.Homes(context.Background())
	want = []Home{
		{User: "alice", Path: "/Users/alice"},
		{User: "bob", Path: "/Users/bob"},
		{User: "carol", Path: "/Users/carol"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Homes from /Users = %+v\nwant %+v", got, want)
	}
}

package inventory

import "testing"

// TestPackageStateOmitted: a settled package's entry, and so the section
// hash of a host whose packages are all settled, is what it was before
// package states were reported.
func TestPackageStateOmitted(t *testing.T) {
	settled := Software{Packages: []Package{{Name: "bash", Version: "5.2.15-2+b2", Arch: "amd64", Source: SourceDpkg}}}
	got, err := Canonical(settled)
	if err != nil {
		t.Fatal(err)
	}
	const before = `{"packages":[{"arch":"amd64","name":"bash","source":"dpkg","version":"5.2.15-2+b2"}]}`
	if string(got) != before || Hash(got) != Hash([]byte(before)) {
		t.Errorf("canonical form %s, want %s", got, before)
	}
	settled.Packages[0].State = "triggers-pending"
	if got, _ := Canonical(settled); string(got) != `{"packages":[{"arch":"amd64","name":"bash","source":"dpkg","state":"triggers-pending","version":"5.2.15-2+b2"}]}` {
		t.Errorf("canonical form with a state: %s", got)
	}
}

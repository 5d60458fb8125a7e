package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// sendHost sends an inventory holding only a host section.
func sendHost(t *testing.T, st store.Store, id int64, seq uint64, h inventory.Host) {
	t.Helper()
	sendSections(t, st, id, seq, at(time.Hour), section(t, inventory.SectionHost, h))
}

// testPossibleDuplicates enrolls cloned machines: they stay separate hosts
// and each names the others, while a firmware placeholder UUID shared by
// unrelated machines flags nobody.
func testPossibleDuplicates(t *testing.T, st store.Store) {
	ctx := t.Context()
	const uuid = "4c4c4544-0042-3510-8052-b4c04f4d4a32"
	ids := map[string]int64{}
	for _, h := range []inventory.Host{
		{Hostname: "clone-a", HardwareUUID: uuid, MachineID: "aaaa0000aaaa0000aaaa0000aaaa0000", Serial: " VMware-56 4d "},
		// The same UUID as Windows spells it.
		{Hostname: "clone-b", HardwareUUID: "{4C4C4544-0042-3510-8052-B4C04F4D4A32}", MachineID: "bbbb0000bbbb0000bbbb0000bbbb0000"},
		// A clone of a's disk image: another UUID, the same machine id.
		{Hostname: "clone-c", HardwareUUID: "11111111-2222-3333-4444-555555555555", MachineID: "AAAA0000AAAA0000AAAA0000AAAA0000"},
		{Hostname: "cheap-1", HardwareUUID: "03000200-0400-0500-0006-000700080009", MachineID: "uninitialized", Serial: "To Be Filled By O.E.M."},
		{Hostname: "cheap-2", HardwareUUID: "03000200-0400-0500-0006-000700080009", MachineID: "uninitialized", Serial: "To Be Filled By O.E.M."},
		{Hostname: "zeros-1", HardwareUUID: "00000000-0000-0000-0000-000000000000"},
		{Hostname: "zeros-2", HardwareUUID: "00000000-0000-0000-0000-000000000000"},
		{Hostname: "unique", HardwareUUID: "99999999-8888-7777-6666-555555555555"},
	} {
		id := enroll(t, st, h.Hostname)
		ids[h.Hostname] = id
		sendHost(t, st, id, 1, h)
	}
	// An enrolled host that never reported has no identity and no twin.
	ids["silent"] = enroll(t, st, "silent")

	want := map[string][]int64{
		"clone-a": {ids["clone-b"], ids["clone-c"]},
		"clone-b": {ids["clone-a"]},
		"clone-c": {ids["clone-a"]},
	}
	check := func(t *testing.T) {
		t.Helper()
		all := listAll(t, st, 100)
		if len(all) != len(ids) {
			t.Fatalf("%d hosts listed, want %d: nothing is merged", len(all), len(ids))
		}
		for _, h := range all {
			if !slices.Equal(h.PossibleDuplicates, want[h.Hostname]) {
				t.Errorf("%s: possible duplicates %v, want %v", h.Hostname, h.PossibleDuplicates, want[h.Hostname])
			}
			if got := getHost(t, st, h.ID); !slices.Equal(got.PossibleDuplicates, want[h.Hostname]) {
				t.Errorf("GetHost %s: possible duplicates %v, want %v", h.Hostname, got.PossibleDuplicates, want[h.Hostname])
			}
		}
		page, err := st.ListHosts(ctx, store.HostPage{Duplicates: true, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var flagged []string
		for _, h := range page {
			flagged = append(flagged, h.Hostname)
		}
		var wantFlagged []string
		for _, name := range []string{"cheap-1", "cheap-2", "clone-a", "clone-b", "clone-c", "silent", "unique", "zeros-1", "zeros-2"} {
			if len(want[name]) > 0 {
				wantFlagged = append(wantFlagged, name)
			}
		}
		if !slices.Equal(flagged, wantFlagged) {
			t.Errorf("duplicates-only list = %q, want %q", flagged, wantFlagged)
		}
	}
	check(t)

	a := getHost(t, st, ids["clone-a"])
	if a.HardwareUUID != uuid || a.MachineID != "aaaa0000aaaa0000aaaa0000aaaa0000" || a.Serial != "VMware-56 4d" {
		t.Errorf("clone-a identity = %q %q %q, want normalized", a.HardwareUUID, a.MachineID, a.Serial)
	}
	if c := getHost(t, st, ids["cheap-1"]); c.HardwareUUID != "" || c.MachineID != "" || c.Serial != "" {
		t.Errorf("placeholders stored: %q %q %q", c.HardwareUUID, c.MachineID, c.Serial)
	}

	// Duplicates-only pages keep their order and cursor.
	var paged []string
	p := store.HostPage{Duplicates: true, Limit: 1}
	for range 10 {
		page, err := st.ListHosts(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page[0].Hostname)
		p.AfterHostname, p.AfterID = page[0].Hostname, page[0].ID
	}
	if fmt.Sprint(paged) != "[clone-a clone-b clone-c]" {
		t.Errorf("duplicates-only pages = %q", paged)
	}

	// clone-c gets its own machine id (as after systemd-machine-id-setup):
	// only a and b stay flagged. A host section that stops coming clears
	// b's identity, and a is left alone.
	sendHost(t, st, ids["clone-c"], 2, inventory.Host{Hostname: "clone-c", HardwareUUID: "11111111-2222-3333-4444-555555555555", MachineID: "cccc"})
	apply(t, st, []store.Message{invMsg(ids["clone-b"], 2, t0, wire.Inventory{
		CollectedAt: t0, Digest: digest(), Removed: []string{inventory.SectionHost},
	})}, []store.Result{{}})
	want = map[string][]int64{}
	check(t)
	if b := getHost(t, st, ids["clone-b"]); b.HardwareUUID != "" || b.Hostname != "clone-b" {
		t.Errorf("clone-b after its host section went: %+v", b)
	}
	// An undecodable host section leaves the identity as it was.
	sendSections(t, st, ids["clone-b"], 3, at(time.Hour), section(t, inventory.SectionHost, inventory.Host{Hostname: "clone-b", HardwareUUID: uuid}))
	sendSections(t, st, ids["clone-b"], 4, at(2*time.Hour), rawSection(inventory.SectionHost, `{"hardware_uuid":7}`))
	want = map[string][]int64{"clone-a": {ids["clone-b"]}, "clone-b": {ids["clone-a"]}}
	check(t)
}

// testDuplicatesBounded pins that an identifier shared by very many hosts
// lists at most store.MaxDuplicates of them.
func testDuplicatesBounded(t *testing.T, st store.Store) {
	n := store.MaxDuplicates + 5
	var ids []int64
	var msgs []store.Message
	var want []store.Result
	for i := range n {
		id := enroll(t, st, fmt.Sprintf("h%02d", i))
		ids = append(ids, id)
		sec := section(t, inventory.SectionHost, inventory.Host{Hostname: fmt.Sprintf("h%02d", i), MachineID: "same"})
		msgs = append(msgs, invMsg(id, 1, t0, wire.Inventory{CollectedAt: t0, Digest: digest(sec), Sections: []wire.Section{sec}}))
		want = append(want, store.Result{})
	}
	apply(t, st, msgs, want)
	h := getHost(t, st, ids[0])
	if want := ids[1 : store.MaxDuplicates+1]; !slices.Equal(h.PossibleDuplicates, want) {
		t.Errorf("possible duplicates = %v, want the %d lowest other ids %v", h.PossibleDuplicates, store.MaxDuplicates, want)
	}
}

// testNodeKeyWithoutDuplicates: HostsByNodeKeys, the read every agent
// connection makes, leaves PossibleDuplicates empty and is otherwise the
// host GetHost returns.
func testNodeKeyWithoutDuplicates(t *testing.T, st store.Store) {
	ctx := t.Context()
	ids := map[string]int64{}
	for _, name := range []string{"twin-a", "twin-b"} {
		id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "key-" + name, Hostname: name, EnrolledAt: t0})
		if err != nil {
			t.Fatalf("enroll %s: %v", name, err)
		}
		ids[name] = id
		sendHost(t, st, id, 1, inventory.Host{Hostname: name, HardwareUUID: "4c4c4544-0042-3510-8052-b4c04f4d4a32"})
	}
	full := getHost(t, st, ids["twin-a"])
	if !slices.Equal(full.PossibleDuplicates, []int64{ids["twin-b"]}) {
		t.Fatalf("GetHost: possible duplicates %v, want [%d]", full.PossibleDuplicates, ids["twin-b"])
	}
	// Many keys at once; an unknown key is left out.
	all, err := st.HostsByNodeKeys(ctx, []string{"key-twin-a", "key-twin-b", "key-nobody"})
	if err != nil || len(all) != 2 {
		t.Fatalf("HostsByNodeKeys = %+v, %v; want the twins", all, err)
	}
	got := all["key-twin-a"]
	if len(got.PossibleDuplicates) != 0 {
		t.Errorf("HostsByNodeKeys: possible duplicates %v, want none", got.PossibleDuplicates)
	}
	full.PossibleDuplicates = nil
	if !reflect.DeepEqual(got, full) {
		t.Errorf("HostsByNodeKeys = %+v\nGetHost         = %+v (without duplicates)", got, full)
	}
	if b := all["key-twin-b"]; b.ID != ids["twin-b"] || b.Hostname != "twin-b" || len(b.PossibleDuplicates) != 0 {
		t.Errorf("HostsByNodeKeys: twin-b = %+v", b)
	}
	if none, err := st.HostsByNodeKeys(ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("HostsByNodeKeys of no keys = %+v, %v", none, err)
	}
}

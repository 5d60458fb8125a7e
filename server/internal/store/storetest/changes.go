package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

var changeTests = []subtest{
	{"first inventory is a baseline", testChangesBaseline},
	{"software installed, removed, upgraded", testChangesSoftware},
	{"every section", testChangesSections},
	{"several messages of a host in one batch", testChangesWithinBatch},
	{"removed and undecodable sections", testChangesRemovedSection},
	{"pages", testChangesPages},
	{"filters", testChangesFilters},
	{"first seen", testChangesFirstSeen},
	{"odd values", testChangesOddValues},
	{"failed batch records nothing", testChangesAtomic},
	{"results count the changes", testChangesCounted},
}

func listChanges(t *testing.T, st store.Store, q store.ChangeQuery) []store.Change {
	t.Helper()
	cs, err := st.ListChanges(t.Context(), q)
	if err != nil {
		t.Fatalf("list changes %+v: %v", q, err)
	}
	return cs
}

// changeKeys renders changes as "kind subject old>new" for comparison.
func changeKeys(cs []store.Change) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, strings.TrimSpace(c.Kind+" "+c.Subject)+" "+c.OldValue+">"+c.NewValue)
	}
	return out
}

func wantChanges(t *testing.T, st store.Store, q store.ChangeQuery, want ...string) []store.Change {
	t.Helper()
	got := listChanges(t, st, q)
	if want == nil {
		want = []string{}
	}
	if keys := changeKeys(got); !slices.Equal(keys, want) {
		t.Errorf("changes %+v =\n  %s\nwant\n  %s", q, strings.Join(keys, "\n  "), strings.Join(want, "\n  "))
	}
	return got
}

// sendSections sends one inventory holding secs (digest over exactly
// them), collected at collected.
func sendSections(t *testing.T, st store.Store, host int64, seq uint64, collected time.Time, secs ...wire.Section) {
	t.Helper()
	apply(t, st, []store.Message{invMsg(host, seq, collected.Add(time.Second), wire.Inventory{
		CollectedAt: collected, Digest: digest(secs...), Sections: secs,
	})}, []store.Result{{}})
}

var (
	pkgCurl    = inventory.Package{Name: "curl", Version: "7.88.1-10+deb12u5", Arch: "amd64", Source: "dpkg"}
	pkgHtop    = inventory.Package{Name: "htop", Version: "3.2.2-2", Arch: "amd64", Source: "dpkg"}
	pkgSSL11   = inventory.Package{Name: "openssl", Version: "3.0.11-1~deb12u2", Arch: "amd64", Source: "dpkg"}
	pkgSSL13   = inventory.Package{Name: "openssl", Version: "3.0.13-1~deb12u1", Arch: "amd64", Source: "dpkg"}
	pkgBash    = inventory.Package{Name: "bash", Version: "5.2.15-2+b2", Arch: "amd64", Source: "dpkg"}
	adminAlice = inventory.User{Name: "alice", UID: "1000", Admin: true}
	userBob    = inventory.User{Name: "bob", UID: "1001"}
	portSSH    = inventory.Port{Proto: "tcp", Address: "0.0.0.0", Port: 22, Process: "sshd"}
	portHTTP   = inventory.Port{Proto: "tcp", Address: "::", Port: 80, Process: "nginx"}
)

func testChangesBaseline(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	// An empty history is an empty list, not an error.
	wantChanges(t, st, store.ChangeQuery{HostID: id})
	secs := []wire.Section{
		softwareSection(t, pkgBash, pkgCurl, pkgSSL11),
		section(t, inventory.SectionUsers, inventory.Users{Users: []inventory.User{adminAlice, userBob}}),
		section(t, inventory.SectionPorts, inventory.Ports{Ports: []inventory.Port{portSSH}}),
		osSection(t),
	}
	sendSections(t, st, id, 1, at(time.Hour), secs...)
	got := wantChanges(t, st, store.ChangeQuery{HostID: id}, "first_inventory >")
	if len(got) == 1 {
		c := got[0]
		if c.HostID != id || c.Seq != 1 || c.ID <= 0 || c.Details != nil {
			t.Errorf("first inventory change = %+v", c)
		}
		sameTime(t, "first_seen", c.FirstSeen, at(time.Hour))
	}
	// The same inventory again, and a hash-only one, change nothing.
	sendSections(t, st, id, 2, at(2*time.Hour), secs...)
	apply(t, st, []store.Message{invMsg(id, 3, at(3*time.Hour), wire.Inventory{CollectedAt: at(3 * time.Hour), Digest: digest(secs...)})},
		[]store.Result{{}})
	wantChanges(t, st, store.ChangeQuery{HostID: id}, "first_inventory >")
}

func testChangesSoftware(t *testing.T, st store.Store) {
	id, other := enroll(t, st, "h"), enroll(t, st, "other")
	setSoftware(t, st, other, 1, pkgCurl)
	sendSections(t, st, id, 1, at(time.Hour), softwareSection(t, pkgBash, pkgCurl, pkgSSL11))
	sendSections(t, st, id, 2, at(2*time.Hour), softwareSection(t, pkgBash, pkgHtop, pkgSSL13))
	got := wantChanges(t, st, store.ChangeQuery{HostID: id},
		"software_upgraded openssl 3.0.11-1~deb12u2>3.0.13-1~deb12u1",
		"software_installed htop >3.2.2-2",
		"software_removed curl 7.88.1-10+deb12u5>",
		"first_inventory >",
	)
	for _, c := range got[:3] {
		if c.Seq != 2 || c.HostID != id {
			t.Errorf("change %+v: want seq 2 of host %d", c, id)
		}
		sameTime(t, "first_seen", c.FirstSeen, at(2*time.Hour))
		var d struct{ Arch, Source string }
		if err := json.Unmarshal(c.Details, &d); err != nil || d.Arch != "amd64" || d.Source != "dpkg" {
			t.Errorf("details of %s = %s (%v), want arch amd64, source dpkg", c.Kind, c.Details, err)
		}
	}
	if !slices.IsSortedFunc(got, func(a, b store.Change) int { return int(b.ID - a.ID) }) {
		t.Errorf("changes of one time not newest id first: %+v", got)
	}
	// The links and the catalog followed as before.
	checkCounts(t, st, map[string]int64{"curl": 1, "htop": 1, "openssl": 1})
	// A downgrade, and the other host untouched.
	sendSections(t, st, id, 3, at(3*time.Hour), softwareSection(t, pkgBash, pkgHtop, pkgSSL11))
	wantChanges(t, st, store.ChangeQuery{HostID: id, Limit: 1}, "software_downgraded openssl 3.0.13-1~deb12u1>3.0.11-1~deb12u2")
	wantChanges(t, st, store.ChangeQuery{HostID: other}, "first_inventory >")
}

func testChangesSections(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	users := func(us ...inventory.User) wire.Section {
		return section(t, inventory.SectionUsers, inventory.Users{Users: us})
	}
	ports := func(ps ...inventory.Port) wire.Section {
		return section(t, inventory.SectionPorts, inventory.Ports{Ports: ps})
	}
	net := func(addrs ...string) wire.Section {
		return section(t, inventory.SectionNetwork, inventory.Network{Interfaces: []inventory.Interface{
			{Name: "eth0", MAC: "52:54:00:12:34:56", Addresses: addrs, Up: true}}})
	}
	host := func(serial string) wire.Section {
		return section(t, inventory.SectionHost, inventory.Host{Hostname: "h", Serial: serial, BIOSVersion: "1.0"})
	}
	mem := func(total uint64) wire.Section {
		return section(t, inventory.SectionMemory, inventory.Memory{TotalBytes: total, SwapBytes: 1})
	}
	svc := func(mode string) wire.Section {
		return section(t, inventory.SectionServices, inventory.Services{Services: []inventory.Service{
			{Name: "ssh.service", State: inventory.ServiceRunning, StartMode: mode}}})
	}
	kernel := func(k string) wire.Section {
		return section(t, inventory.SectionOS, inventory.OS{Name: "Debian", Platform: "debian", Version: "12", Kernel: k, Arch: "amd64"})
	}
	sendSections(t, st, id, 1, at(time.Hour), host("S1"), kernel("6.1.0-17"), mem(8<<30), net("10.0.0.5/24"),
		svc(inventory.StartAuto), users(userBob), ports(portSSH))
	sendSections(t, st, id, 2, at(2*time.Hour), host("S2"), kernel("6.1.0-18"), mem(16<<30), net("10.0.0.9/24"),
		svc(inventory.StartDisabled), users(adminAlice, inventory.User{Name: "bob", UID: "1001", Admin: true}), ports(portSSH, portHTTP))
	// Newest first: the message's sections in reverse order of sending,
	// each section's changes in reverse of their own order.
	wantChanges(t, st, store.ChangeQuery{HostID: id},
		"port_opened tcp/80 >[::]:80 nginx",
		"admin_added bob >",
		"admin_added alice >",
		"user_added alice >1000",
		"service_start_mode_changed ssh.service auto>disabled",
		"address_added eth0 >10.0.0.9/24",
		"address_removed eth0 10.0.0.5/24>",
		"hardware_changed memory.total_bytes 8589934592>17179869184",
		"os_changed kernel 6.1.0-17>6.1.0-18",
		"hardware_changed serial S1>S2",
		"first_inventory >",
	)
}

func testChangesWithinBatch(t *testing.T, st store.Store) {
	id, other := enroll(t, st, "h"), enroll(t, st, "other")
	u1 := section(t, inventory.SectionUsers, inventory.Users{Users: []inventory.User{userBob}})
	u2 := section(t, inventory.SectionUsers, inventory.Users{Users: []inventory.User{userBob, adminAlice}})
	s1, s2, s3 := softwareSection(t, pkgSSL11), softwareSection(t, pkgSSL13), softwareSection(t, pkgSSL13, pkgHtop)
	inv := func(collected time.Time, secs ...wire.Section) wire.Inventory {
		return wire.Inventory{CollectedAt: collected, Digest: digest(secs...), Sections: secs}
	}
	// First, second and third inventory of one host in one batch, the
	// second resending users unchanged, with another host in between.
	apply(t, st, []store.Message{
		invMsg(id, 1, t0, inv(at(time.Hour), u1, s1)),
		invMsg(other, 1, t0, inv(at(time.Hour), u2)),
		invMsg(id, 2, t0, inv(at(2*time.Hour), u1, s2)),
		invMsg(id, 3, t0, inv(at(3*time.Hour), u2, s3)),
	}, []store.Result{{}, {}, {}, {}})
	wantChanges(t, st, store.ChangeQuery{HostID: id},
		"software_installed htop >3.2.2-2",
		"admin_added alice >",
		"user_added alice >1000",
		"software_upgraded openssl 3.0.11-1~deb12u2>3.0.13-1~deb12u1",
		"first_inventory >",
	)
	// The next batch starts from where this one left the host.
	sendSections(t, st, id, 4, at(4*time.Hour), u1, s3)
	wantChanges(t, st, store.ChangeQuery{HostID: id, Limit: 2}, "user_removed alice 1000>", "admin_removed alice >")
	wantChanges(t, st, store.ChangeQuery{HostID: other}, "first_inventory >")
}

func testChangesRemovedSection(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	cpu := section(t, inventory.SectionCPU, inventory.CPU{Model: "Xeon", Cores: 4})
	sw := softwareSection(t, pkgSSL11, pkgCurl)
	sendSections(t, st, id, 1, at(time.Hour), cpu, sw)
	// The collector stops reporting software: nothing is recorded.
	apply(t, st, []store.Message{invMsg(id, 2, t0, wire.Inventory{
		CollectedAt: at(2 * time.Hour), Digest: digest(cpu), Removed: []string{inventory.SectionSoftware},
	})}, []store.Result{{}})
	// It comes back with other packages: a new baseline, not 2 installs.
	sendSections(t, st, id, 3, at(3*time.Hour), cpu, softwareSection(t, pkgSSL13, pkgHtop))
	// A section that does not decode records nothing and fails nothing;
	// the next good one is compared with the last good links.
	bad := rawSection(inventory.SectionSoftware, `{"packages":5}`)
	sendSections(t, st, id, 4, at(4*time.Hour), cpu, bad)
	badCPU := rawSection(inventory.SectionCPU, `{"cores":"many"}`)
	sendSections(t, st, id, 5, at(5*time.Hour), badCPU, bad)
	sendSections(t, st, id, 6, at(6*time.Hour), section(t, inventory.SectionCPU, inventory.CPU{Model: "Xeon", Cores: 8}),
		softwareSection(t, pkgSSL13))
	wantChanges(t, st, store.ChangeQuery{HostID: id},
		"software_removed htop 3.2.2-2>",
		"first_inventory >",
	)
}

// testChangesPages pages through changes whose collection times are not
// in arrival order (an agent that spooled offline reports late).
func testChangesPages(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	var pkgs []inventory.Package
	for i := range 4 {
		pkgs = append(pkgs, inventory.Package{Name: fmt.Sprintf("p%d", i), Version: "1", Source: "dpkg"})
	}
	sendSections(t, st, id, 1, at(time.Hour), softwareSection(t))
	sendSections(t, st, id, 2, at(5*time.Hour), softwareSection(t, pkgs[:2]...))
	sendSections(t, st, id, 3, at(3*time.Hour), softwareSection(t, pkgs[:3]...))
	sendSections(t, st, id, 4, at(7*time.Hour), softwareSection(t, pkgs...))
	all := wantChanges(t, st, store.ChangeQuery{HostID: id},
		"software_installed p3 >1",
		"software_installed p1 >1",
		"software_installed p0 >1",
		"software_installed p2 >1",
		"first_inventory >",
	)
	for _, size := range []int{1, 2, 3, 5, 6} {
		t.Run(fmt.Sprintf("page size %d", size), func(t *testing.T) {
			var got []store.Change
			q := store.ChangeQuery{HostID: id, Limit: size}
			for range 10 {
				page := listChanges(t, st, q)
				if len(page) > size {
					t.Fatalf("page of %d, limit %d", len(page), size)
				}
				got = append(got, page...)
				if len(page) < size {
					break
				}
				last := page[len(page)-1]
				q.AfterFirstSeen, q.AfterID = last.FirstSeen, last.ID
			}
			if fmt.Sprint(changeKeys(got)) != fmt.Sprint(changeKeys(all)) || len(got) != len(all) {
				t.Errorf("paged = %q, want %q", changeKeys(got), changeKeys(all))
			}
			for i := range got {
				if got[i].ID != all[i].ID {
					t.Errorf("paged change %d has id %d, want %d", i, got[i].ID, all[i].ID)
				}
			}
		})
	}
}

func testChangesFilters(t *testing.T, st store.Store) {
	h1, h2 := enroll(t, st, "one"), enroll(t, st, "two")
	sendSections(t, st, h1, 1, at(time.Hour), softwareSection(t, pkgSSL11, pkgCurl))
	sendSections(t, st, h2, 1, at(time.Hour), softwareSection(t, pkgSSL11))
	sendSections(t, st, h1, 2, at(2*time.Hour), softwareSection(t, pkgSSL13))
	sendSections(t, st, h2, 2, at(3*time.Hour), softwareSection(t, pkgSSL13, pkgHtop))
	ssl := "software_upgraded openssl 3.0.11-1~deb12u2>3.0.13-1~deb12u1"
	cases := []struct {
		name string
		q    store.ChangeQuery
		want []string
	}{
		{"one kind", store.ChangeQuery{HostID: h1, Kinds: []string{"software_removed"}}, []string{"software_removed curl 7.88.1-10+deb12u5>"}},
		{"two kinds", store.ChangeQuery{HostID: h1, Kinds: []string{"software_removed", "first_inventory"}},
			[]string{"software_removed curl 7.88.1-10+deb12u5>", "first_inventory >"}},
		{"unknown kind", store.ChangeQuery{HostID: h1, Kinds: []string{"nothing"}}, nil},
		{"subject", store.ChangeQuery{HostID: h1, Subject: "openssl"}, []string{ssl}},
		{"subject is exact", store.ChangeQuery{HostID: h1, Subject: "open"}, nil},
		{"since is inclusive", store.ChangeQuery{HostID: h1, Since: at(2 * time.Hour)}, []string{ssl, "software_removed curl 7.88.1-10+deb12u5>"}},
		{"until is exclusive", store.ChangeQuery{HostID: h1, Until: at(2 * time.Hour)}, []string{"first_inventory >"}},
		{"since and until", store.ChangeQuery{HostID: h2, Since: at(time.Hour + 1), Until: at(4 * time.Hour)},
			[]string{ssl, "software_installed htop >3.2.2-2"}},
		{"fleet, one kind", store.ChangeQuery{Kinds: []string{"software_upgraded"}}, []string{ssl, ssl}},
		{"fleet, subject", store.ChangeQuery{Subject: "htop"}, []string{"software_installed htop >3.2.2-2"}},
		{"fleet, everything", store.ChangeQuery{}, []string{ssl, "software_installed htop >3.2.2-2",
			ssl, "software_removed curl 7.88.1-10+deb12u5>", "first_inventory >", "first_inventory >"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := wantChanges(t, st, c.q, c.want...)
			if c.q.HostID != 0 {
				for _, ch := range got {
					if ch.HostID != c.q.HostID {
						t.Errorf("change of host %d in a list for host %d", ch.HostID, c.q.HostID)
					}
				}
			}
		})
	}
	if fleet := listChanges(t, st, store.ChangeQuery{Kinds: []string{"software_upgraded"}}); len(fleet) == 2 && fleet[0].HostID != h2 {
		t.Errorf("newest upgrade is host %d's, want %d's (collected later)", fleet[0].HostID, h2)
	}
	if _, err := st.ListChanges(t.Context(), store.ChangeQuery{HostID: h2 + 1000}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("changes of an unknown host: err = %v, want ErrNotFound", err)
	}
	// The default page is 100 changes.
	var many []inventory.Package
	for i := range 150 {
		many = append(many, inventory.Package{Name: fmt.Sprintf("pkg%03d", i), Version: "1", Source: "dpkg"})
	}
	sendSections(t, st, h1, 3, at(4*time.Hour), softwareSection(t, many...))
	for _, limit := range []int{0, -1} {
		if got := listChanges(t, st, store.ChangeQuery{HostID: h1, Limit: limit}); len(got) != 100 {
			t.Errorf("limit %d: %d changes, want 100", limit, len(got))
		}
	}
}

func testChangesFirstSeen(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	sendSections(t, st, id, 1, at(time.Hour), softwareSection(t, pkgSSL11))
	// Without a collection time the change is dated by its receipt.
	sw := softwareSection(t, pkgSSL13)
	apply(t, st, []store.Message{invMsg(id, 2, at(3*time.Hour), wire.Inventory{Digest: digest(sw), Sections: []wire.Section{sw}})},
		[]store.Result{{}})
	got := wantChanges(t, st, store.ChangeQuery{HostID: id, Limit: 1}, "software_upgraded openssl 3.0.11-1~deb12u2>3.0.13-1~deb12u1")
	if len(got) == 1 {
		sameTime(t, "first_seen without collected_at", got[0].FirstSeen, at(3*time.Hour))
	}
}

func testChangesOddValues(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	long := strings.Repeat("é", 3000)
	users := func(us ...inventory.User) wire.Section {
		return section(t, inventory.SectionUsers, inventory.Users{Users: us})
	}
	sendSections(t, st, id, 1, at(time.Hour), users())
	sendSections(t, st, id, 2, at(2*time.Hour), users(inventory.User{Name: long, UID: "nul\x00uid"}))
	got := listChanges(t, st, store.ChangeQuery{HostID: id, Kinds: []string{"user_added"}})
	if len(got) != 1 {
		t.Fatalf("changes = %+v, want one user_added", got)
	}
	if len(got[0].Subject) > 512 || !strings.HasPrefix(long, got[0].Subject) || got[0].NewValue != "nuluid" {
		t.Errorf("odd user stored as subject of %d bytes, new value %q", len(got[0].Subject), got[0].NewValue)
	}
	var d map[string]any
	if err := json.Unmarshal(got[0].Details, &d); err != nil || d["uid"] != "nul\x00uid" {
		t.Errorf("details = %s (%v), want the uid as reported", got[0].Details, err)
	}
}

func testChangesAtomic(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	sendSections(t, st, id, 1, at(time.Hour), softwareSection(t, pkgSSL11))
	sw := softwareSection(t, pkgSSL13)
	_, err := st.ApplyBatch(t.Context(), []store.Message{
		invMsg(id, 2, t0, wire.Inventory{CollectedAt: at(2 * time.Hour), Digest: digest(sw), Sections: []wire.Section{sw}}),
		heartbeat(id+1000, 1, t0),
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("batch naming an unknown host: err = %v, want ErrNotFound", err)
	}
	wantChanges(t, st, store.ChangeQuery{HostID: id}, "first_inventory >")
}

// testChangesCounted: each message's result counts the changes it
// recorded, by kind, and nothing for heartbeats, duplicates and
// inventories that changed nothing; the counts add up to the history.
func testChangesCounted(t *testing.T, st store.Store) {
	id, other := enroll(t, st, "h"), enroll(t, st, "other")
	u1 := section(t, inventory.SectionUsers, inventory.Users{Users: []inventory.User{userBob}})
	u2 := section(t, inventory.SectionUsers, inventory.Users{Users: []inventory.User{userBob, adminAlice}})
	s1, s2, s3 := softwareSection(t, pkgSSL11), softwareSection(t, pkgSSL13), softwareSection(t, pkgSSL13, pkgHtop)
	inv := func(collected time.Time, secs ...wire.Section) wire.Inventory {
		return wire.Inventory{CollectedAt: collected, Digest: digest(secs...), Sections: secs}
	}
	msgs := []store.Message{
		invMsg(id, 1, t0, inv(at(time.Hour), u1, s1)),
		invMsg(other, 1, t0, inv(at(time.Hour), u2)),
		heartbeat(other, 2, t0),
		invMsg(id, 2, t0, inv(at(2*time.Hour), u1, s2)),
		invMsg(id, 3, t0, inv(at(3*time.Hour), u2, s3)),
		invMsg(id, 3, t0, inv(at(3*time.Hour), u2, s3)), // a duplicate
		invMsg(id, 4, t0, inv(at(4*time.Hour), u2, s3)), // nothing changed
	}
	want := []map[string]int{
		{"first_inventory": 1},
		{"first_inventory": 1},
		nil,
		{"software_upgraded": 1},
		{"software_installed": 1, "user_added": 1, "admin_added": 1},
		nil,
		nil,
	}
	got, err := st.ApplyBatch(t.Context(), msgs)
	if err != nil {
		t.Fatalf("apply batch: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("apply batch: %d results, want %d", len(got), len(want))
	}
	total := map[string]int{}
	for i := range want {
		if !maps.Equal(got[i].Changes, want[i]) || (got[i].Changes == nil) != (want[i] == nil) {
			t.Errorf("result %d changes = %v, want %v", i, got[i].Changes, want[i])
		}
		for k, n := range got[i].Changes {
			total[k] += n
		}
	}
	history := map[string]int{}
	for _, c := range listChanges(t, st, store.ChangeQuery{Limit: 1000}) {
		history[c.Kind]++
	}
	if !maps.Equal(total, history) {
		t.Errorf("results count %v, the history holds %v", total, history)
	}
}

package ingestplan_test

import (
	"errors"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/ingestplan"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

var (
	received  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	collected = time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC)
	quiet     = slog.New(slog.DiscardHandler)
)

func sec(name, hash, data string) wire.Section {
	return wire.Section{Name: name, Hash: hash, Data: []byte(data)}
}

// inv is an inventory message of host 1 whose digest folds the given
// hashes, which is what the host should hold afterwards.
func inv(seq uint64, after map[string]string, secs []wire.Section, removed ...string) store.Message {
	return store.Message{HostID: 1, Seq: seq, Type: wire.TypeInventory, Received: received,
		Inventory: &wire.Inventory{CollectedAt: collected, Digest: inventory.Digest(after), Sections: secs, Removed: removed}}
}

func heartbeat(host int64, seq uint64, at time.Time) store.Message {
	return store.Message{HostID: host, Seq: seq, Type: wire.TypeHeartbeat, Received: at}
}

func build(t *testing.T, msgs []store.Message, hosts map[int64]*ingestplan.Host) *ingestplan.Plan {
	t.Helper()
	if err := ingestplan.Check(msgs); err != nil {
		t.Fatalf("Check: %v", err)
	}
	p, err := ingestplan.Build(quiet, msgs, hosts)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return p
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, got, want)
	}
}

func ptr(s string) *string { return &s }

const (
	osV11 = `{"name":"Debian","platform":"debian","version":"11","arch":"amd64"}`
	osV12 = `{"name":"Debian","platform":"debian","version":"12","arch":"amd64"}`
	osV13 = `{"name":"Debian","platform":"debian","version":"13","arch":"amd64"}`
)

func TestSequenceNumbers(t *testing.T) {
	t1, t2 := received, received.Add(time.Minute)
	hosts := map[int64]*ingestplan.Host{1: {LastSeq: 5}, 2: {LastSeq: 9}}
	p := build(t, []store.Message{
		heartbeat(1, 5, t1), // already applied
		heartbeat(1, 7, t1),
		heartbeat(1, 6, t2), // behind the one before it
		heartbeat(2, 3, t2), // host 2 moves nothing
		heartbeat(1, 8, t2),
	}, hosts)
	var dups []bool
	for _, r := range p.Results {
		dups = append(dups, r.Duplicate)
	}
	equal(t, "duplicates", dups, []bool{true, false, true, true, false})
	equal(t, "progress", p.Progress, []ingestplan.Progress{{HostID: 1, LastSeq: 8, LastSeen: t2}})
	equal(t, "writes", len(p.Writes), 0)
	equal(t, "changes", len(p.Changes()), 0)
}

func TestFirstInventoryIsBaseline(t *testing.T) {
	sw := `{"packages":[{"name":"zlib","version":"1.3","source":"deb"},{"name":"bash","version":"5.2","source":"deb","publisher":"GNU"}]}`
	after := map[string]string{"os": "o1", "software": "s1"}
	m := inv(3, after, []wire.Section{sec("os", "o1", osV12), sec("software", "s1", sw)})
	p := build(t, []store.Message{m}, map[int64]*ingestplan.Host{1: {}})
	equal(t, "writes", p.Writes, []ingestplan.Write{
		&ingestplan.SectionUpsert{HostID: 1, Names: []string{"os", "software"}, Hashes: []string{"o1", "s1"},
			Data: []string{osV12, sw}, At: received},
		&ingestplan.HostOS{HostID: 1, Platform: "debian", Version: "12"},
		&ingestplan.SoftwareSet{HostID: 1, Msg: 0, Packages: []ingestplan.Package{
			{Package: changes.Package{Name: "bash", Version: "5.2", Source: "deb"}, Publisher: "GNU"},
			{Package: changes.Package{Name: "zlib", Version: "1.3", Source: "deb"}},
		}},
		&ingestplan.CollectState{HostID: 1, CollectedAt: collected},
	})
	equal(t, "changes", p.Changes(), []ingestplan.ChangeRow{
		{HostID: 1, Kind: changes.FirstInventory, FirstSeen: collected, Seq: 3},
	})
	equal(t, "result", p.Results[0], store.Result{Changes: map[string]int{changes.FirstInventory: 1}})
	equal(t, "progress", p.Progress, []ingestplan.Progress{{HostID: 1, LastSeq: 3, LastSeen: received}})
}

func TestChangedSection(t *testing.T) {
	host := &ingestplan.Host{LastSeq: 1, Hashes: map[string]string{"os": "o1"}, Data: map[string]string{"os": osV11}}
	m := inv(2, map[string]string{"os": "o2"}, []wire.Section{sec("os", "o2", osV12)})
	m.Inventory.Errors = map[string]string{"ports": "permission denied"}
	p := build(t, []store.Message{m}, map[int64]*ingestplan.Host{1: host})
	equal(t, "writes", p.Writes, []ingestplan.Write{
		&ingestplan.SectionUpsert{HostID: 1, Names: []string{"os"}, Hashes: []string{"o2"}, Data: []string{osV12}, At: received},
		&ingestplan.HostOS{HostID: 1, Platform: "debian", Version: "12"},
		&ingestplan.CollectState{HostID: 1, CollectedAt: collected, Errors: ptr(`{"ports":"permission denied"}`)},
	})
	equal(t, "changes", p.Changes(), []ingestplan.ChangeRow{
		{HostID: 1, Kind: changes.OSChanged, Subject: "version", Old: "11", New: "12", FirstSeen: collected, Seq: 2},
	})
	equal(t, "result", p.Results[0], store.Result{Changes: map[string]int{changes.OSChanged: 1}})
	equal(t, "host after", host, &ingestplan.Host{LastSeq: 2, Hashes: map[string]string{"os": "o2"}, Data: map[string]string{"os": osV12}})
}

func TestUnchangedSectionWritesNothing(t *testing.T) {
	host := &ingestplan.Host{Hashes: map[string]string{"os": "o1", "software": "s1"}, Data: map[string]string{}}
	m := inv(1, map[string]string{"os": "o1", "software": "s1"},
		[]wire.Section{sec("os", "o1", osV11), sec("software", "s1", `{"packages":[]}`)})
	m.Inventory.CollectedAt = time.Time{}
	p := build(t, []store.Message{m}, map[int64]*ingestplan.Host{1: host})
	equal(t, "writes", p.Writes, []ingestplan.Write{&ingestplan.CollectState{HostID: 1}})
	equal(t, "changes", len(p.Changes()), 0)
	equal(t, "result", p.Results[0], store.Result{})
}

func TestTwoInventoriesOfOneHost(t *testing.T) {
	sw2 := `{"packages":[{"name":"curl","version":"8.5","source":"deb"}]}`
	sw3 := `{"packages":[{"name":"curl","version":"8.5","source":"deb"},{"name":"jq","version":"1.7","source":"deb"}]}`
	host := &ingestplan.Host{Hashes: map[string]string{"os": "o1", "software": "s1"}, Data: map[string]string{"os": osV11}}
	m1 := inv(1, map[string]string{"os": "o2", "software": "s2"}, []wire.Section{sec("software", "s2", sw2), sec("os", "o2", osV12)})
	m2 := inv(2, map[string]string{"os": "o3", "software": "s3"}, []wire.Section{sec("os", "o3", osV13), sec("software", "s3", sw3)})
	m2.Inventory.CollectedAt = time.Time{} // dated by receipt
	p := build(t, []store.Message{m1, m2}, map[int64]*ingestplan.Host{1: host})

	var sets []*ingestplan.SoftwareSet
	for _, w := range p.Writes {
		if s, ok := w.(*ingestplan.SoftwareSet); ok {
			sets = append(sets, s)
		}
	}
	if len(sets) != 2 {
		t.Fatalf("software sets: %d, want 2", len(sets))
	}
	curl := func(v string) changes.Package { return changes.Package{Name: "curl", Version: v, Source: "deb"} }
	jq := changes.Package{Name: "jq", Version: "1.7", Source: "deb"}
	equal(t, "first set", *sets[0], ingestplan.SoftwareSet{HostID: 1, Track: true, Msg: 0,
		Packages: []ingestplan.Package{{Package: curl("8.5")}}})
	equal(t, "second set", *sets[1], ingestplan.SoftwareSet{HostID: 1, Track: true, Msg: 1,
		Packages: []ingestplan.Package{{Package: curl("8.5")}, {Package: jq}}})
	// What a backend applying them in order finds.
	sets[0].Removed, sets[0].Added = []changes.Package{curl("7.88")}, []changes.Package{curl("8.5")}
	sets[1].Added = []changes.Package{jq}

	deb := ptr(`{"source":"deb"}`)
	equal(t, "changes", p.Changes(), []ingestplan.ChangeRow{
		{HostID: 1, Kind: changes.SoftwareUpgraded, Subject: "curl", Old: "7.88", New: "8.5", Details: deb, FirstSeen: collected, Seq: 1},
		{HostID: 1, Kind: changes.OSChanged, Subject: "version", Old: "11", New: "12", FirstSeen: collected, Seq: 1},
		{HostID: 1, Kind: changes.OSChanged, Subject: "version", Old: "12", New: "13", FirstSeen: received, Seq: 2},
		{HostID: 1, Kind: changes.SoftwareInstalled, Subject: "jq", New: "1.7", Details: deb, FirstSeen: received, Seq: 2},
	})
	equal(t, "results", p.Results, []store.Result{
		{Changes: map[string]int{changes.SoftwareUpgraded: 1, changes.OSChanged: 1}},
		{Changes: map[string]int{changes.OSChanged: 1, changes.SoftwareInstalled: 1}},
	})
	// Counting again gives the same counts, not twice them.
	p.Changes()
	equal(t, "results recounted", p.Results[1].Changes, map[string]int{changes.OSChanged: 1, changes.SoftwareInstalled: 1})
}

func TestRemovedSections(t *testing.T) {
	host := &ingestplan.Host{Hashes: map[string]string{"os": "o1", "host": "h1", "software": "s1"},
		Data: map[string]string{"host": `{"hostname":"a"}`}}
	m := inv(1, map[string]string{"os": "o1"}, nil, "host", "software")
	p := build(t, []store.Message{m}, map[int64]*ingestplan.Host{1: host})
	equal(t, "writes", p.Writes, []ingestplan.Write{
		&ingestplan.SectionDelete{HostID: 1, Names: []string{"host", "software"}},
		&ingestplan.IdentityClear{HostID: 1},
		&ingestplan.SoftwareSet{HostID: 1, Msg: 0},
		&ingestplan.CollectState{HostID: 1, CollectedAt: collected},
	})
	equal(t, "changes", len(p.Changes()), 0)
	equal(t, "result", p.Results[0], store.Result{})
	equal(t, "hashes after", host.Hashes, map[string]string{"os": "o1"})
}

func TestResync(t *testing.T) {
	for _, tc := range []struct {
		name   string
		digest map[string]string
		resync bool
	}{
		{"digest folds", map[string]string{"os": "o2", "cpu": "c1"}, false},
		{"agent expects a section the store lacks", map[string]string{"os": "o2", "cpu": "c1", "ports": "p1"}, true},
		{"store holds a section the agent dropped", map[string]string{"os": "o2"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := &ingestplan.Host{Hashes: map[string]string{"os": "o1", "cpu": "c1"}, Data: map[string]string{"os": osV11}}
			m := inv(1, tc.digest, []wire.Section{sec("os", "o2", osV12)})
			p := build(t, []store.Message{m}, map[int64]*ingestplan.Host{1: host})
			equal(t, "resync", p.Results[0].Resync, tc.resync)
		})
	}
}

func TestIdentityNormalised(t *testing.T) {
	data := `{"hostname":"web\u0000-1","hardware_uuid":"{4C4C4544-0042-3510-8052-B4C04F4E4D32}",` +
		`"machine_id":" 0123456789ABCDEF0123456789ABCDEF ","serial":" To Be Filled By O.E.M. "}`
	long := strings.Repeat("é", 300) // 600 bytes
	os := `{"name":"x","platform":"` + long + `","version":"1"}`
	m := inv(1, map[string]string{"host": "h1", "os": "o1"}, []wire.Section{sec("host", "h1", data), sec("os", "o1", os)})
	p := build(t, []store.Message{m}, map[int64]*ingestplan.Host{1: {}})
	equal(t, "identity", p.Writes[1], ingestplan.Write(&ingestplan.HostIdentity{HostID: 1, Hostname: "web-1",
		HardwareUUID: "4c4c4544-0042-3510-8052-b4c04f4e4d32", MachineID: "0123456789abcdef0123456789abcdef"}))
	equal(t, "os", p.Writes[2], ingestplan.Write(&ingestplan.HostOS{HostID: 1, Platform: strings.Repeat("é", 256), Version: "1"}))
}

func TestUndecodableSectionIsStoredNotCopied(t *testing.T) {
	m := inv(1, map[string]string{"os": "o1", "software": "s1"},
		[]wire.Section{sec("os", "o1", `{"version":12}`), sec("software", "s1", `{"packages":{}}`)})
	p := build(t, []store.Message{m}, map[int64]*ingestplan.Host{1: {}})
	equal(t, "writes", p.Writes, []ingestplan.Write{
		&ingestplan.SectionUpsert{HostID: 1, Names: []string{"os", "software"}, Hashes: []string{"o1", "s1"},
			Data: []string{`{"version":12}`, `{"packages":{}}`}, At: received},
		&ingestplan.CollectState{HostID: 1, CollectedAt: collected},
	})
}

func TestUnknownHost(t *testing.T) {
	msgs := []store.Message{heartbeat(1, 1, received), heartbeat(9, 1, received)}
	_, err := ingestplan.Build(quiet, msgs, map[int64]*ingestplan.Host{1: {}})
	if !errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), "host 9") {
		t.Fatalf("Build with host 9 unknown: %v, want store.ErrNotFound naming host 9", err)
	}
}

func TestCheckRefuses(t *testing.T) {
	ok := inv(1, nil, []wire.Section{sec("os", "o1", osV11)})
	for _, tc := range []struct {
		name string
		msg  store.Message
		want string
	}{
		{"inventory without inventory", store.Message{HostID: 1, Seq: 1, Type: wire.TypeInventory}, "without inventory"},
		{"invalid UTF-8", inv(1, nil, []wire.Section{sec("os", "o1", "{\"name\":\"\xff\"}")}), "not valid UTF-8"},
		{"unknown type", store.Message{HostID: 1, Seq: 1, Type: "bogus"}, "unknown message type"},
		{"sequence out of range", heartbeat(1, math.MaxInt64+1, received), "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ingestplan.Check([]store.Message{ok, tc.msg})
			if err == nil || !strings.HasPrefix(err.Error(), "message 1: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check: %v, want message 1 refused with %q", err, tc.want)
			}
		})
	}
	if err := ingestplan.Check([]store.Message{ok, heartbeat(1, math.MaxInt64, received)}); err != nil {
		t.Fatalf("Check of a valid batch: %v", err)
	}
}

func TestOldData(t *testing.T) {
	msgs := []store.Message{
		heartbeat(1, 1, received),
		inv(2, nil, []wire.Section{sec("os", "o2", osV12), sec("software", "s2", `{}`), sec("cpu", "c1", `{}`)}),
		inv(3, nil, []wire.Section{sec("os", "o3", osV13), sec("cpu", "c1", `{}`)}),
	}
	got := ingestplan.OldData(msgs)
	equal(t, "refs", got, []ingestplan.SectionRef{
		{HostID: 1, Name: "os"},                   // two hashes: read whatever is stored
		{HostID: 1, Name: "cpu", Hash: ptr("c1")}, // one hash: read only if it differs
	})
	if !got[0].Wanted("o2") || got[1].Wanted("c1") || !got[1].Wanted("c0") {
		t.Error("Wanted disagrees with the hashes carried")
	}
}

func TestSoftwareDecoding(t *testing.T) {
	sw := `{"packages":[{"name":"b","version":"1","source":"deb","publisher":"first"},` +
		`{"name":"","version":"1","source":"deb"},{"name":"a\u0000","version":"2","arch":"x","source":"rpm"},` +
		`{"name":"b","version":"1","source":"deb","publisher":"second"}]}`
	p := build(t, []store.Message{inv(1, nil, []wire.Section{sec("software", "s1", sw)})}, map[int64]*ingestplan.Host{1: {}})
	equal(t, "set", p.Writes[1], ingestplan.Write(&ingestplan.SoftwareSet{HostID: 1, Packages: []ingestplan.Package{
		{Package: changes.Package{Name: "a", Version: "2", Arch: "x", Source: "rpm"}},
		{Package: changes.Package{Name: "b", Version: "1", Source: "deb"}, Publisher: "first"},
	}}))
}

package alerting

import (
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// report commits one inventory message of the host's software and disks,
// as ingest does, and runs the post-commit hook.
func (f *fixture) report(seq uint64, packages []string, freeBytes uint64) {
	f.t.Helper()
	f.clock.add(time.Second)
	var sw inventory.Software
	for _, name := range packages {
		sw.Packages = append(sw.Packages, inventory.Package{Name: name, Version: "1.0", Source: "dpkg"})
	}
	disks := inventory.Disks{Volumes: []inventory.Volume{{Device: "/dev/vda1", Mount: "/", FS: "ext4", SizeBytes: 100 << 30, FreeBytes: freeBytes}}}
	var secs []wire.Section
	hashes := map[string]string{}
	for name, v := range map[string]any{"software": sw, "disks": disks} {
		raw, err := inventory.Canonical(v)
		if err != nil {
			f.t.Fatal(err)
		}
		s := wire.Section{Name: name, Hash: inventory.Hash(raw), Data: raw}
		secs = append(secs, s)
		hashes[name] = s.Hash
	}
	msg := store.Message{HostID: f.host, Seq: seq, Type: wire.TypeInventory, Received: f.clock.now(),
		Inventory: &wire.Inventory{CollectedAt: f.clock.now(), Digest: inventory.Digest(hashes), Sections: secs}}
	res, err := f.st.ApplyBatch(f.t.Context(), []store.Message{msg})
	if err != nil {
		f.t.Fatal(err)
	}
	f.engine.InventoryCommitted([]store.Message{msg}, res)
}

func TestInventoryChangeAndExprRules(t *testing.T) {
	h := newHook(t)
	telnet := alertconf.Rule{Name: "telnet-installed", Type: "inventory_change", Severity: "high",
		Kinds: []string{"software_installed"}, SubjectMatches: "^telnetd?$", ResolveAfter: time.Hour}
	disk := alertconf.Rule{Name: "disk-almost-full", Type: "expr", Severity: "medium",
		Expr: "inventory.disks.volumes.exists(v, v.size_bytes > 0 && v.free_bytes * 10 < v.size_bytes)"}
	f := newFixture(t, testConfig([]alertconf.Receiver{h.receiver("hook")}, telnet, disk))

	f.report(1, []string{"bash", "openssh-server"}, 50<<30) // the baseline: nothing alerts
	f.settle()
	if open, _ := f.st.OpenAlerts(t.Context(), store.OpenAlertQuery{}); len(open) != 0 {
		t.Fatalf("alerts after the first inventory: %+v", open)
	}

	f.report(2, []string{"bash", "openssh-server", "telnetd", "vim"}, 50<<30)
	m := h.next("software installed")
	if m.Alert.Rule != "telnet-installed" || m.Alert.Subject != "software_installed:telnetd" ||
		m.Alert.Labels["kind"] != "software_installed" || !strings.Contains(m.Alert.Annotations["summary"], "telnetd") {
		t.Errorf("inventory change alert = %+v", m)
	}
	// Removing and installing it again within the episode does not page again.
	f.report(3, []string{"bash", "openssh-server", "vim"}, 50<<30)
	f.report(4, []string{"bash", "openssh-server", "telnetd", "vim"}, 50<<30)
	f.settle()
	if open, _ := f.st.OpenAlerts(t.Context(), store.OpenAlertQuery{Rule: "telnet-installed"}); len(open) != 1 {
		t.Errorf("open telnet alerts = %+v, want the one episode", open)
	}

	f.report(5, []string{"bash", "openssh-server", "telnetd", "vim"}, 5<<30) // 5 % free
	d := h.next("disk almost full")
	if d.Alert.Rule != "disk-almost-full" || d.Alert.Labels["severity"] != "medium" {
		t.Errorf("expr alert = %+v", d)
	}
	f.report(6, []string{"bash", "openssh-server", "telnetd", "vim"}, 40<<30)
	if r := h.next("disk resolve"); r.Event != "resolve" || r.Alert.DedupKey != d.Alert.DedupKey {
		t.Errorf("expr resolve = %+v", r)
	}

	// An inventory change episode ends resolve_after after the change.
	// (First let every delivery be recorded: a jump of the clock past a
	// claim's lease would rightly send a row again.)
	f.waitOutbox(d.Alert.ID)
	f.waitOutbox(m.Alert.ID)
	f.clock.add(2 * time.Hour)
	f.engine.Resweep()
	if r := h.next("change resolve"); r.Event != "resolve" || r.Alert.DedupKey != m.Alert.DedupKey {
		t.Errorf("change resolve = %+v", r)
	}
}

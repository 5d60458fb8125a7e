package loadgen

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

func TestRunAgainstRealGateway(t *testing.T) {
	ts := newTestServer(t)
	cfg := testConfig(ts, 20)
	cfg.SourceIPs = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("127.0.0.2")}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	ts.waitIdle(t)
	if rep.Failed {
		t.Fatalf("run failed: %v", rep.Problems)
	}
	hosts := ts.store.snapshot()

	t.Run("every agent enrolled once", func(t *testing.T) {
		if len(hosts) != 20 || rep.Enroll.Enrolled != 20 || rep.Enroll.Attempted != 20 || rep.Enroll.Reused != 0 {
			t.Fatalf("server has %d hosts; report: %+v", len(hosts), rep.Enroll)
		}
		if rep.Enroll.Latency.Count != 20 {
			t.Errorf("enroll latency samples %d, want 20", rep.Enroll.Latency.Count)
		}
		names := map[string]bool{}
		for _, h := range hosts {
			if names[h.Hostname] || !strings.HasPrefix(h.Hostname, "loadgen-"+rep.RunID+"-") {
				t.Errorf("hostname %q duplicate or not from run %s", h.Hostname, rep.RunID)
			}
			names[h.Hostname] = true
			if h.connects != 1 || len(h.hellos) != 1 || h.hellos[0].Hostname != h.Hostname {
				t.Errorf("host %d: %d connections, hellos %+v", h.ID, h.connects, h.hellos)
			}
			if h.DisconnectedAt.IsZero() {
				t.Errorf("host %d: connection not closed", h.ID)
			}
		}
	})

	t.Run("sequence numbers strictly increase", func(t *testing.T) {
		for _, h := range hosts {
			if h.dups != 0 {
				t.Errorf("host %d: %d duplicate sequence numbers", h.ID, h.dups)
			}
			for i, m := range h.applied {
				if m.Seq != uint64(i+1) {
					t.Fatalf("host %d: message %d has seq %d, want %d", h.ID, i, m.Seq, i+1)
				}
			}
		}
	})

	t.Run("first message is a valid full inventory", func(t *testing.T) {
		for _, h := range hosts {
			if len(h.applied) == 0 || h.applied[0].Inventory == nil {
				t.Fatalf("host %d: first message is not an inventory", h.ID)
			}
			checkFullInventory(t, h.applied[0].Inventory, cfg.Packages, h.Hostname)
		}
	})

	t.Run("report counts match the server", func(t *testing.T) {
		var applied, heartbeats, unchanged int64
		for _, h := range hosts {
			applied += int64(len(h.applied))
			for _, m := range h.applied[1:] {
				switch {
				case m.Type == wire.TypeHeartbeat:
					heartbeats++
				case m.Inventory != nil && len(m.Inventory.Sections) == 0 && m.Inventory.Digest == h.applied[0].Inventory.Digest:
					unchanged++
				default:
					t.Errorf("host %d: unexpected steady message %+v", h.ID, m)
				}
			}
		}
		c, s := rep.Connect, rep.Steady
		if c.Attempted != 20 || c.Connected != 20 || c.InventoriesAcked != 20 || len(c.Failures) != 0 || c.FirstAck.Count != 20 {
			t.Errorf("connect report %+v", c)
		}
		if s.Sent == 0 || s.Sent != s.Acked || s.Unacked != 0 || s.Latency.Count != uint64(s.Acked) {
			t.Errorf("steady report: sent %d acked %d unacked %d latency samples %d", s.Sent, s.Acked, s.Unacked, s.Latency.Count)
		}
		if got := int64(c.InventoriesAcked) + s.Acked; got != applied {
			t.Errorf("report acked %d messages, server applied %d", got, applied)
		}
		if heartbeats == 0 || unchanged == 0 {
			t.Errorf("server saw %d heartbeats and %d unchanged inventories; want both", heartbeats, unchanged)
		}
		if s.Disconnects != 0 || len(s.ErrorFrames) != 0 || s.ConnectedAtEnd != 20 {
			t.Errorf("steady: %d disconnects, error frames %v, %d connected at end", s.Disconnects, s.ErrorFrames, s.ConnectedAtEnd)
		}
	})

	t.Run("heartbeats carry health the server counts", func(t *testing.T) {
		var heartbeats, inventories int64
		for _, h := range hosts {
			for _, m := range h.applied {
				switch m.Type {
				case wire.TypeHeartbeat:
					heartbeats++
				case wire.TypeInventory:
					inventories++
				}
			}
		}
		m := ts.metrics
		if got := testutil.ToFloat64(m.AgentHealthReports); got != float64(heartbeats) {
			t.Errorf("server counted %v health reports, applied %d heartbeats", got, heartbeats)
		}
		// Each inventory stands for a scan, reported by the next heartbeat:
		// at least the first inventory's, at most one per inventory.
		scans := histogramCount(t, m, "inventory")
		if scans < 20 || scans > uint64(inventories) {
			t.Errorf("%d inventory scans reported, want 20 to %d (one per inventory sent before a heartbeat)", scans, inventories)
		}
		if policy := histogramCount(t, m, "policy"); policy != scans {
			t.Errorf("%d policy scans reported, want %d (one after each collection)", policy, scans)
		}
		if v := testutil.ToFloat64(m.AgentSpooled); v != 0 {
			t.Errorf("spooled gauge %v with no agent connected, want 0", v)
		}
		if v := testutil.ToFloat64(m.AgentDropped); rep.Steady.Skipped == 0 && v != 0 {
			t.Errorf("%v messages reported dropped, none skipped", v)
		}
	})

	t.Run("connections closed with a close frame", func(t *testing.T) {
		if n := strings.Count(ts.logs.String(), "agent closed connection"); n != 20 {
			t.Errorf("gateway logged %d clean closes, want 20", n)
		}
	})

	t.Run("source addresses used round robin", func(t *testing.T) {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if ts.remotes["127.0.0.1"] != 10 || ts.remotes["127.0.0.2"] != 10 {
			t.Errorf("connections by source address: %v", ts.remotes)
		}
	})

	t.Run("server metrics scraped before closing", func(t *testing.T) {
		sv := rep.ServerSide
		if !sv.Scraped || sv.AgentsConnected != 20 || sv.RSSBytes <= 0 || sv.RSSPerAgentBytes != round(sv.RSSBytes/20, 0) {
			t.Errorf("server metrics %+v", sv)
		}
		// Every steady message the server committed was counted by its
		// ingest histogram between the two scrapes; acks of the last few
		// may arrive after the closing scrape, never before it.
		if sv.IngestCommitted <= 0 || sv.IngestCommitted > float64(rep.Steady.Acked) || sv.IngestP99Seconds <= 0 {
			t.Errorf("ingest: %v committed (loadgen acked %d), p99 <= %vs", sv.IngestCommitted, rep.Steady.Acked, sv.IngestP99Seconds)
		}
		if rep.Client.RSSBytes == 0 || rep.Client.PeakRSSBytes < rep.Client.RSSBytes {
			t.Errorf("client memory %+v", rep.Client)
		}
	})
}

// checkFullInventory checks inv the way the server does, and that it is
// the full, realistic document the loadgen promises.
func checkFullInventory(t *testing.T, inv *wire.Inventory, packages int, hostname string) {
	t.Helper()
	if err := inv.Validate(); err != nil {
		t.Fatalf("%s: inventory invalid: %v", hostname, err)
	}
	hashes := map[string]string{}
	for _, s := range inv.Sections {
		hashes[s.Name] = s.Hash
	}
	for _, name := range []string{"host", "os", "cpu", "memory", "disks", "network", "software"} {
		if hashes[name] == "" {
			t.Errorf("%s: section %s missing", hostname, name)
		}
	}
	if got := inventory.Digest(hashes); got != inv.Digest {
		t.Errorf("%s: digest %s, want %s over the sections sent", hostname, inv.Digest, got)
	}
	for _, s := range inv.Sections {
		canon, err := inventory.CanonicalizeJSON(s.Data)
		if err != nil || string(canon) != string(s.Data) {
			t.Errorf("%s: section %s is not canonical JSON (err %v)", hostname, s.Name, err)
		}
		switch s.Name {
		case "software":
			var sw inventory.Software
			if err := json.Unmarshal(s.Data, &sw); err != nil {
				t.Fatal(err)
			}
			if len(sw.Packages) != packages {
				t.Errorf("%s: %d packages, want %d", hostname, len(sw.Packages), packages)
			}
		case "host":
			var h inventory.Host
			if err := json.Unmarshal(s.Data, &h); err != nil || h.Hostname != hostname {
				t.Errorf("%s: host section names %q (err %v)", hostname, h.Hostname, err)
			}
		}
	}
}

func TestStateFileReconnectsTheSameFleet(t *testing.T) {
	ts := newTestServer(t)
	path := filepath.Join(t.TempDir(), "fleet.json")
	run := func(t *testing.T, agents int, secret string) *Report {
		t.Helper()
		cfg := testConfig(ts, agents)
		cfg.Duration = 300 * time.Millisecond // only the seq continuity matters here
		cfg.EnrollSecret = secret
		cfg.StateFile = path
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if rep.Failed {
			t.Fatalf("run failed: %v", rep.Problems)
		}
		ts.waitIdle(t)
		return rep
	}
	first := run(t, 5, testSecret)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
	second := run(t, 8, testSecret)
	third := run(t, 8, "") // everything is in the state file: no secret needed

	for _, tc := range []struct {
		name                  string
		rep                   *Report
		reused, enrolled, acc int
	}{
		{"first", first, 0, 5, 5},
		{"second", second, 5, 3, 8},
		{"third", third, 8, 0, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rep.Enroll.Reused != tc.reused || tc.rep.Enroll.Enrolled != tc.enrolled || tc.rep.Connect.InventoriesAcked != tc.acc {
				t.Errorf("enroll %+v, inventories acked %d", tc.rep.Enroll, tc.rep.Connect.InventoriesAcked)
			}
		})
	}
	hosts := ts.store.snapshot()
	if len(hosts) != 8 {
		t.Fatalf("server has %d hosts, want 8", len(hosts))
	}
	for _, h := range hosts {
		want := 2
		if h.ID <= 5 {
			want = 3
		}
		if h.connects != want {
			t.Errorf("host %d connected %d times, want %d", h.ID, h.connects, want)
		}
		// A reconnected host sends its digest alone, as an agent whose
		// machine did not change does: one full inventory per host.
		full := 0
		for _, m := range h.applied {
			if m.Inventory != nil && len(m.Inventory.Sections) > 0 {
				full++
			}
		}
		if full != 1 {
			t.Errorf("host %d sent %d full inventories over %d connections, want 1", h.ID, full, h.connects)
		}
		// A reconnected host continues above the server's last_seq.
		if h.dups != 0 {
			t.Errorf("host %d: %d duplicate sequence numbers after reconnecting", h.ID, h.dups)
		}
		for i, m := range h.applied {
			if m.Seq != uint64(i+1) {
				t.Fatalf("host %d: message %d has seq %d", h.ID, i, m.Seq)
			}
		}
	}
	st, err := LoadState(path)
	if err != nil || len(st.Agents) != 8 || st.Server != ts.url {
		t.Fatalf("state %+v, err %v", st, err)
	}
}

func TestServerErrorsAreReported(t *testing.T) {
	ts := newTestServer(t)
	ts.store.refuse = wire.TypeHeartbeat // the database fails on the first heartbeat
	cfg := testConfig(ts, 6)
	cfg.Duration = 800 * time.Millisecond
	cfg.InventoryEvery = 0
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	s := rep.Steady
	if !rep.Failed || s.ErrorFrames[wire.CodeUnavailable] != 6 || s.Disconnects != 6 || s.ConnectedAtEnd != 0 {
		t.Fatalf("failed %v, error frames %v, disconnects %d, connected at end %d", rep.Failed, s.ErrorFrames, s.Disconnects, s.ConnectedAtEnd)
	}
	if s.Unacked != s.Sent || s.Acked != 0 {
		t.Errorf("sent %d, acked %d, unacked %d: every heartbeat should be unacked", s.Sent, s.Acked, s.Unacked)
	}
	if rep.Connect.InventoriesAcked != 6 {
		t.Errorf("inventories acked %d, want 6 (only heartbeats fail)", rep.Connect.InventoriesAcked)
	}
}

func TestUnknownNodeKeysFailToConnect(t *testing.T) {
	ts := newTestServer(t)
	path := filepath.Join(t.TempDir(), "other-server.json")
	st := &State{Server: "http://elsewhere:8080"}
	for i := range 3 {
		st.Agents = append(st.Agents, Identity{Hostname: "stale-" + string(rune('a'+i)), HostID: int64(i + 1), NodeKey: strings.Repeat("ab", 32)})
	}
	if err := SaveState(path, st); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(ts, 3)
	cfg.EnrollSecret = ""
	cfg.StateFile = path
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	c := rep.Connect
	if !rep.Failed || c.Attempted != 3 || c.Connected != 0 || c.Failures["dial: http 401"] != 3 {
		t.Fatalf("failed %v, connect %+v", rep.Failed, c)
	}
	if len(rep.Warnings) == 0 || !strings.Contains(rep.Warnings[0], "http://elsewhere:8080") {
		t.Errorf("no warning about the state file's server: %v", rep.Warnings)
	}
	if rep.Steady.Sent != 0 {
		t.Errorf("agents without a connection sent %d messages", rep.Steady.Sent)
	}
}

// A warm-up's sends are acked and kept in the windows, but the phase's
// latency and rate count only what was sent after it.
func TestWarmupLeftOutOfLatency(t *testing.T) {
	s := steadyOfFive(t, 700*time.Millisecond, 0)
	if s.WarmupSeconds != 0.7 || s.DurationSeconds < 0.7 {
		t.Errorf("warm-up %v s, measured %v s; want 0.7 and at least 0.7", s.WarmupSeconds, s.DurationSeconds)
	}
	if s.MeasuredFromSeconds < 0.7 {
		t.Errorf("measured from %v s after the start; want after the 0.7 s warm-up", s.MeasuredFromSeconds)
	}
	// The windows wholly before MeasuredFromSeconds hold warm-up sends
	// only, those from it on measured sends only.
	var inWindows, before, after uint64
	for _, w := range s.LatencyByWindow {
		inWindows += w.Count
		if w.FromSeconds+windowWidth.Seconds() <= s.MeasuredFromSeconds {
			before += w.Count
		}
		if w.FromSeconds >= s.MeasuredFromSeconds {
			after += w.Count
		}
	}
	if before > uint64(s.Acked)-s.Latency.Count || after > s.Latency.Count {
		t.Errorf("windows before %v s hold %d sends and after it %d; %d were measured of %d acked",
			s.MeasuredFromSeconds, before, after, s.Latency.Count, s.Acked)
	}
	// Five agents at 10 a second send about 35 heartbeats in each part.
	if inWindows != uint64(s.Acked) {
		t.Errorf("windows hold %d samples, %d were acked", inWindows, s.Acked)
	}
	if s.Latency.Count == 0 || s.Latency.Count >= uint64(s.Acked) || s.Latency.Count < uint64(s.Acked)/4 {
		t.Errorf("latency has %d samples of %d acked; want those sent after the warm-up, about half", s.Latency.Count, s.Acked)
	}
}

// What agents send while lingering after the measured part is acked and
// kept in the windows, but the phase's latency and rate leave it out.
func TestLingerLeftOutOfLatency(t *testing.T) {
	s := steadyOfFive(t, 0, 700*time.Millisecond)
	if s.LingerSeconds != 0.7 || s.DurationSeconds < 0.7 {
		t.Errorf("lingered %v s, measured %v s; want 0.7 and at least 0.7", s.LingerSeconds, s.DurationSeconds)
	}
	var inWindows uint64
	for _, w := range s.LatencyByWindow {
		inWindows += w.Count
	}
	if inWindows != uint64(s.Acked) {
		t.Errorf("windows hold %d samples, %d were acked", inWindows, s.Acked)
	}
	// Five agents at 10 a second send about 35 heartbeats in each part.
	if s.Latency.Count == 0 || s.Latency.Count >= uint64(s.Acked) || s.Latency.Count < uint64(s.Acked)/4 {
		t.Errorf("latency has %d samples of %d acked; want those sent before lingering, about half", s.Latency.Count, s.Acked)
	}
	if max := s.AckedPerSecond * s.DurationSeconds; float64(s.Acked) <= max {
		t.Errorf("acked %d in all, %.0f in the measured part: the lingering's acks are counted in the rate", s.Acked, max)
	}
}

// steadyOfFive runs five agents for a 700 ms measured steady phase, with
// warmup before it and linger after, and returns the steady report once
// every message was acked.
func steadyOfFive(t *testing.T, warmup, linger time.Duration) SteadyReport {
	t.Helper()
	ts := newTestServer(t)
	cfg := testConfig(ts, 5)
	cfg.InventoryEvery = 0
	cfg.Warmup, cfg.Duration, cfg.Linger = warmup, 700*time.Millisecond, linger
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	ts.waitIdle(t)
	s := rep.Steady
	if rep.Failed || s.Unacked != 0 || s.Sent != s.Acked {
		t.Fatalf("run: failed %v %v, sent %d acked %d unacked %d", rep.Failed, rep.Problems, s.Sent, s.Acked, s.Unacked)
	}
	return s
}

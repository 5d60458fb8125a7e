package runner

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/agent/internal/state"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

func TestEnrollOnceThenReuseKey(t *testing.T) {
	fs := newFakeServer(t)
	a := newTestAgent(t, fs, newFeed())
	a.start(t)
	first := fs.accept(t)
	first.handshake(t, 0)
	if err := a.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil on cancel", err)
	}

	keyFile := filepath.Join(a.cfg.StateDir, state.NodeKeyFile)
	raw, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(raw)) != first.key {
		t.Errorf("node_key holds %q, the agent authenticated with %q", raw, first.key)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("node_key mode = %o, want 600", fi.Mode().Perm())
		}
	}

	a.start(t)
	second := fs.accept(t)
	second.hello(t)
	if second.key != first.key {
		t.Errorf("restarted agent used key %q, want the stored %q", second.key, first.key)
	}
	if enrolls, _ := fs.counts(); enrolls != 1 {
		t.Errorf("server saw %d enrollments, want 1", enrolls)
	}
}

func TestEnrollRefusedIsRetried(t *testing.T) {
	fs := newFakeServer(t)
	fs.refuseEnrolls = 2
	a := newTestAgent(t, fs, newFeed())
	a.start(t)
	fs.accept(t).hello(t)

	if enrolls, _ := fs.counts(); enrolls != 3 {
		t.Errorf("server saw %d enroll attempts, want 3 (two refused, one accepted)", enrolls)
	}
	if waits, _ := a.sleeps.snapshot(); len(waits) != 2 {
		t.Errorf("agent waited %d times before enrolling, want 2 (%v)", len(waits), waits)
	}
	logs := a.logs.String()
	if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "enroll secret refused by server") {
		t.Errorf("refusal not logged as a clear error; logs:\n%s", logs)
	}
}

func TestHandshake(t *testing.T) {
	fs := newFakeServer(t)
	f := newFeed()
	a := newTestAgent(t, fs, f)
	a.start(t)
	fc := fs.accept(t)
	h := fc.handshake(t, 0)

	want := wire.Hello{
		ProtocolVersions: []int{1},
		AgentVersion:     "1.2.3-test",
		OS:               runtime.GOOS,
		Arch:             runtime.GOARCH,
		Hostname:         "test-host",
	}
	if !slices.Equal(h.ProtocolVersions, want.ProtocolVersions) || h.AgentVersion != want.AgentVersion ||
		h.OS != want.OS || h.Arch != want.Arch || h.Hostname != want.Hostname {
		t.Errorf("hello = %+v, want %+v", h, want)
	}
	// The agent reports right after welcome, without waiting an interval.
	f.give(t, doc(map[string]string{"os": `{"name":"debian"}`}))
	m, _ := fc.inventory(t)
	if m.env.Seq != 1 {
		t.Errorf("first inventory seq = %d, want 1 from a fresh state dir", m.env.Seq)
	}
}

func TestResumesAboveServerLastSeq(t *testing.T) {
	fs := newFakeServer(t)
	f := newFeed()
	a := newTestAgent(t, fs, f)
	a.cfg.HeartbeatInterval = 5 * time.Millisecond
	a.start(t)
	fc := fs.accept(t)
	fc.handshake(t, 1000)

	f.give(t, doc(map[string]string{"os": `{"name":"debian"}`}))
	prev := uint64(1000)
	for range 4 {
		m := fc.next(t)
		if m.env.Seq <= prev {
			t.Fatalf("%s seq %d, want above %d", m.env.Type, m.env.Seq, prev)
		}
		prev = m.env.Seq
	}
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if st := savedState(t, a.cfg.StateDir); st.NextSeq <= prev {
		t.Errorf("saved next_seq %d, want above the last used %d", st.NextSeq, prev)
	}
}

// TestInventoryDiffs walks one connection through the inventory cases in
// order; each step starts from what the previous one left acknowledged.
func TestInventoryDiffs(t *testing.T) {
	base := map[string]string{
		"host":     `{"hostname":"test-host"}`,
		"os":       `{"name":"debian","version":"12"}`,
		"software": `{"packages":[{"name":"bash","source":"dpkg","version":"5.2"}]}`,
	}
	changed := map[string]string{
		"host":     base["host"],
		"os":       base["os"],
		"software": `{"packages":[{"name":"bash","source":"dpkg","version":"5.3"}]}`,
	}
	removed := map[string]string{"host": base["host"], "software": changed["software"]}
	allButOthers := []string{"cpu", "memory", "disks", "network", "services", "users", "ports"}

	steps := []struct {
		name         string
		sections     map[string]string
		resync       bool     // the server answers with resync
		wantSections []string // sent in full
		wantRemoved  []string
		maxWire      int64 // bytes on the wire; 0 = not checked
	}{
		{name: "first sends all", sections: base, wantSections: []string{"host", "os", "software"}, wantRemoved: allButOthers},
		{name: "unchanged sends digest only", sections: base, maxWire: 256},
		{name: "changed sends that section", sections: changed, wantSections: []string{"software"}},
		{name: "removed section", sections: removed, wantRemoved: []string{"os"}},
		{name: "resync asked", sections: removed, resync: true},
	}

	fs := newFakeServer(t)
	f := newFeed()
	a := newTestAgent(t, fs, f)
	a.start(t)
	fc := fs.accept(t)
	fc.handshake(t, 0)

	for _, step := range steps {
		ok := t.Run(step.name, func(t *testing.T) {
			f.give(t, doc(step.sections))
			m, inv := fc.inventory(t)
			var names []string
			for _, s := range inv.Sections {
				names = append(names, s.Name)
				if string(s.Data) != step.sections[s.Name] {
					t.Errorf("section %s data = %s, want %s", s.Name, s.Data, step.sections[s.Name])
				}
			}
			if !slices.Equal(names, step.wantSections) {
				t.Errorf("sections sent = %v, want %v", names, step.wantSections)
			}
			if !slices.Equal(inv.Removed, step.wantRemoved) {
				t.Errorf("removed = %v, want %v", inv.Removed, step.wantRemoved)
			}
			want := hashesOf(step.sections)
			if inv.Digest != inventory.Digest(want) {
				t.Errorf("digest does not fold the hashes of the sections now present")
			}
			if step.maxWire > 0 && m.wireBytes > step.maxWire {
				t.Errorf("unchanged inventory took %d bytes on the wire, budget %d", m.wireBytes, step.maxWire)
			}
			t.Logf("inventory: %d bytes on the wire", m.wireBytes)

			fc.ack(t, m.env.Seq, step.resync)
			if step.resync {
				// The full resend comes from the document already in hand:
				// the feed is not asked for another one.
				full, inv := fc.inventory(t)
				if full.env.Seq <= m.env.Seq {
					t.Errorf("resend seq %d, want above %d", full.env.Seq, m.env.Seq)
				}
				var names []string
				for _, s := range inv.Sections {
					names = append(names, s.Name)
				}
				if !slices.Equal(names, []string{"host", "software"}) {
					t.Errorf("after resync sent %v, want every section", names)
				}
				fc.ack(t, full.env.Seq, false)
			}
			// The next collection starts only after the ack is persisted,
			// so once it asks for a document the state file is current.
			f.give(t, doc(step.sections))
			if got := savedState(t, a.cfg.StateDir).AckedHashes; !maps.Equal(got, want) {
				t.Errorf("acked hashes on disk = %v, want %v", got, want)
			}
			// That collection's inventory (digest only) is acked too, so
			// the next step starts from the same acknowledged set.
			m, _ = fc.inventory(t)
			fc.ack(t, m.env.Seq, false)
		})
		if !ok {
			t.FailNow()
		}
	}
}

func TestSeqIncreasesAcrossReconnectsAndRestarts(t *testing.T) {
	fs := newFakeServer(t)
	f := newFeed()
	a := newTestAgent(t, fs, f)
	a.cfg.HeartbeatInterval = 2 * time.Millisecond
	var seqs []uint64
	collect := func(fc *fakeConn) {
		for range 5 {
			m := fc.next(t)
			if m.env.Type != wire.TypeHeartbeat && m.env.Type != wire.TypeInventory {
				t.Fatalf("got %+v, want a data message", m.env)
			}
			seqs = append(seqs, m.env.Seq)
		}
	}

	a.start(t)
	fc := fs.accept(t)
	fc.handshake(t, 0)
	f.give(t, doc(map[string]string{"os": `{"name":"debian"}`}))
	collect(fc)
	// The server drops the connection; the reconnect's welcome says
	// last_seq 0, so only the agent's own state keeps numbers unique.
	_ = fc.ws.Close()
	fc = fs.accept(t)
	fc.handshake(t, 0)
	collect(fc)
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}

	a.start(t)
	fc = fs.accept(t)
	fc.handshake(t, 0)
	collect(fc)

	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("seq %d follows %d; sequence %v", seqs[i], seqs[i-1], seqs)
		}
	}
}

func TestServerCloseReconnects(t *testing.T) {
	fs := newFakeServer(t)
	a := newTestAgent(t, fs, newFeed())
	a.start(t)
	fc := fs.accept(t)
	fc.handshake(t, 0)
	_ = fc.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "restarting"))
	_ = fc.ws.Close()

	fs.accept(t).hello(t)
	waits, _ := a.sleeps.snapshot()
	// First failure: backoff window 2 s, and the test's random source says
	// the middle of it.
	if len(waits) != 1 || waits[0] != time.Second {
		t.Errorf("waits before reconnecting = %v, want [1s]", waits)
	}
}

func TestServerRetryHintDelaysReconnect(t *testing.T) {
	cases := []struct {
		name  string
		setup func(fs *fakeServer)
		conn  func(t *testing.T, fc *fakeConn)
		want  time.Duration
	}{
		{
			name: "error message",
			conn: func(t *testing.T, fc *fakeConn) {
				fc.handshake(t, 0)
				fc.send(t, wire.TypeError, 0, wire.Error{Code: wire.CodeUnavailable, Message: "database down", RetryAfter: wire.Duration(42 * time.Second)})
				_ = fc.ws.Close()
			},
			want: 42 * time.Second,
		},
		{
			name: "HTTP 503 at dial",
			setup: func(fs *fakeServer) {
				fs.dialStatus = []int{503}
				fs.dialRetryAfter = "17"
			},
			want: 17 * time.Second,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			if tc.setup != nil {
				tc.setup(fs)
			}
			a := newTestAgent(t, fs, newFeed())
			a.start(t)
			if tc.conn != nil {
				tc.conn(t, fs.accept(t))
			}
			fs.accept(t).hello(t)

			waits, dialed := a.sleeps.snapshot()
			if len(waits) != 1 {
				t.Fatalf("waits = %v, want exactly one before the reconnect", waits)
			}
			// rand is 0.5 in these tests: the wait is the server's hint
			// times 1.5, the middle of [1, 2) (agents of one outage do not
			// return together).
			if waits[0] != tc.want*3/2 {
				t.Errorf("waited %v, want 1.5 times the server's %v", waits[0], tc.want)
			}
			if dialed[0] != 1 {
				t.Errorf("server had seen %d dials when the wait began, want 1 (no early reconnect)", dialed[0])
			}
			if tc.conn != nil && !strings.Contains(a.logs.String(), "code=unavailable") {
				t.Errorf("error code not logged; logs:\n%s", a.logs.String())
			}
		})
	}
}

func TestBackoffGrowsAndResetsAfterStableConnection(t *testing.T) {
	fs := newFakeServer(t)
	fs.dialStatus = []int{503, 503, 503}
	f := newFeed()
	a := newTestAgent(t, fs, f)
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a.start(t, withClock(clock))

	fc := fs.accept(t)
	fc.handshake(t, 0)
	// The agent asks for a document only after it noted the welcome time.
	f.give(t, doc(map[string]string{"os": `{"name":"debian"}`}))
	clock.advance(stableAfter) // this connection counts as stable
	_ = fc.ws.Close()
	fc = fs.accept(t)
	fc.handshake(t, 0)
	_ = fc.ws.Close() // this one does not
	fs.accept(t).hello(t)

	waits, _ := a.sleeps.snapshot()
	// r = 0.5 of windows 2 s, 4 s, 8 s; then reset to 2 s; then 4 s.
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, time.Second, 2 * time.Second}
	if !slices.Equal(waits, want) {
		t.Errorf("waits = %v, want %v", waits, want)
	}
}

func TestDialUnauthorized(t *testing.T) {
	cases := []struct {
		name      string
		secret    bool // the restarted agent has an enroll secret
		wantLog   string
		reenrolls bool
	}{
		{name: "re-enrolls with secret", secret: true, wantLog: "enrolling again", reenrolls: true},
		{name: "keeps key without secret", secret: false, wantLog: "no enroll secret configured"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFakeServer(t)
			f := newFeed()
			a := newTestAgent(t, fs, f)
			a.start(t)
			fc := fs.accept(t)
			fc.handshake(t, 0)
			f.give(t, doc(map[string]string{"os": `{"name":"debian"}`}))
			m, _ := fc.inventory(t)
			fc.ack(t, m.env.Seq, false)
			f.give(t, doc(map[string]string{"os": `{"name":"debian"}`})) // ack persisted
			if err := a.stop(t); err != nil {
				t.Fatal(err)
			}
			oldKey := fc.key

			fs.forget()
			if !tc.secret {
				a.cfg.EnrollSecret = ""
			}
			a.start(t)
			if !tc.reenrolls {
				waitFor(t, "three refused dials", func() bool { _, d := fs.counts(); return d >= 4 })
				if err := a.stop(t); err != nil {
					t.Fatalf("Run = %v, want nil on cancel", err)
				}
				if key, err := os.ReadFile(filepath.Join(a.cfg.StateDir, state.NodeKeyFile)); err != nil || strings.TrimSpace(string(key)) != oldKey {
					t.Errorf("node_key = %q, %v; want the old key kept", key, err)
				}
				if _, err := os.Stat(filepath.Join(a.cfg.StateDir, state.RejectedNodeKeyFile)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("key set aside although no secret can replace it: %v", err)
				}
			} else {
				fc = fs.accept(t)
				fc.handshake(t, 0)
				if fc.key == oldKey {
					t.Error("agent reconnected with the refused key")
				}
				rejected, err := os.ReadFile(filepath.Join(a.cfg.StateDir, state.RejectedNodeKeyFile))
				if err != nil || strings.TrimSpace(string(rejected)) != oldKey {
					t.Errorf("node_key.rejected = %q, %v; want the refused key", rejected, err)
				}
				// The new host holds nothing yet: everything is sent again.
				f.give(t, doc(map[string]string{"os": `{"name":"debian"}`}))
				if _, inv := fc.inventory(t); len(inv.Sections) != 1 {
					t.Errorf("first inventory after re-enrolling sent %d sections, want 1 (all)", len(inv.Sections))
				}
			}
			wantEnrolls := 1
			if tc.reenrolls {
				wantEnrolls = 2
			}
			if enrolls, _ := fs.counts(); enrolls != wantEnrolls {
				t.Errorf("enrollments = %d, want %d", enrolls, wantEnrolls)
			}
			if logs := a.logs.String(); !strings.Contains(logs, tc.wantLog) {
				t.Errorf("logs lack %q:\n%s", tc.wantLog, logs)
			}
		})
	}
}

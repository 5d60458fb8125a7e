package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// protoAgent speaks the agent protocol from the test, so it can report
// inventories the test machine does not have: a package upgraded, a
// cloned VM's hardware UUID.
type protoAgent struct {
	ws     *websocket.Conn
	hostID int64
	seq    uint64
	hashes map[string]string
}

// connectAgent enrolls hostname with the server's enroll secret and opens
// its WebSocket.
func connectAgent(t *testing.T, s *server, hostname string) *protoAgent {
	t.Helper()
	secret := readSecret(t, filepath.Join(s.dataDir, "enroll-secret"))
	body, _ := json.Marshal(map[string]string{"enroll_secret": secret, "hostname": hostname})
	resp, err := http.Post(s.url+"/agent/v1/enroll", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var enrolled struct {
		NodeKey string `json:"node_key"`
	}
	json.NewDecoder(resp.Body).Decode(&enrolled)
	resp.Body.Close()
	if enrolled.NodeKey == "" {
		t.Fatalf("enroll %s: HTTP %d", hostname, resp.StatusCode)
	}
	wsURL := "ws" + strings.TrimPrefix(s.url, "http") + "/agent/v1/ws"
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + enrolled.NodeKey}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	hello, _ := wire.Encode(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{wire.ProtocolVersion}, OS: "linux",
		Arch: "amd64", Hostname: hostname, AgentVersion: "test"})
	if err := ws.WriteMessage(websocket.TextMessage, hello); err != nil {
		t.Fatal(err)
	}
	a := &protoAgent{ws: ws, hashes: map[string]string{}}
	env := a.read(t)
	var welcome wire.Welcome
	if env.Type != wire.TypeWelcome || wire.DecodePayload(env, &welcome) != nil {
		t.Fatalf("handshake: got %s", env.Type)
	}
	a.hostID = welcome.HostID
	return a
}

// read returns the next reply, passing over what the server pushes on its
// own (a policy set, a check request): this client evaluates no policies.
func (a *protoAgent) read(t *testing.T) wire.Envelope {
	t.Helper()
	for {
		a.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, msg, err := a.ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		env, err := wire.Decode(msg)
		if err != nil {
			t.Fatalf("decode %s: %v", msg, err)
		}
		if env.Type == wire.TypePolicySet || env.Type == wire.TypeCheckNow {
			continue
		}
		return env
	}
}

// report sends the sections that changed, as the agent does, and waits for
// the server's ack, which comes once the message is committed.
func (a *protoAgent) report(t *testing.T, collected time.Time, sections map[string]any) {
	t.Helper()
	inv := wire.Inventory{CollectedAt: collected}
	for _, name := range inventory.SectionNames {
		v, ok := sections[name]
		if !ok {
			continue
		}
		data, err := inventory.Canonical(v)
		if err != nil {
			t.Fatal(err)
		}
		hash := inventory.Hash(data)
		if a.hashes[name] != hash {
			inv.Sections = append(inv.Sections, wire.Section{Name: name, Hash: hash, Data: data})
			a.hashes[name] = hash
		}
	}
	inv.Digest = inventory.Digest(a.hashes)
	a.seq++
	msg, err := wire.Encode(wire.TypeInventory, a.seq, inv)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
		t.Fatal(err)
	}
	env := a.read(t)
	var ack wire.Ack
	if len(env.Payload) > 0 {
		if err := wire.DecodePayload(env, &ack); err != nil {
			t.Fatalf("after inventory %d: %v", a.seq, err)
		}
	}
	if env.Type != wire.TypeAck || env.Seq != a.seq || ack.Resync {
		t.Fatalf("after inventory %d: got %s seq %d %s, want an ack without resync", a.seq, env.Type, env.Seq, env.Payload)
	}
}

// TestChangeHistory drives the real server with two inventories whose
// package lists differ and reads the recorded changes back through the
// real stewardctl; two clones reporting one hardware UUID stay two hosts,
// both flagged.
func TestChangeHistory(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "steward.db") },
		"postgres": func(t *testing.T) string { return pgtest.NewDatabase(t) },
	}
	for name, db := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			changeHistory(t, db(t))
		})
	}
}

func changeHistory(t *testing.T, db string) {
	// The history below is dated 2025, older than the default retention
	// of changes: keep it, or the retention run at start may drop it
	// while the test reads it.
	conf := filepath.Join(t.TempDir(), "steward.yaml")
	if err := os.WriteFile(conf, []byte("retention:\n  changes: 0s\n  audit: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, db, "--config", conf)
	const uuid = "4c4c4544-0042-3510-8052-b4c04f4d4a32"
	pkg := func(name, version string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Arch: "amd64", Source: inventory.SourceDpkg}
	}
	day1 := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)

	a := connectAgent(t, s, "clone-a")
	a.report(t, day1, map[string]any{
		inventory.SectionHost: inventory.Host{Hostname: "clone-a", HardwareUUID: strings.ToUpper(uuid), MachineID: "aaaa"},
		inventory.SectionOS:   inventory.OS{Name: "Debian GNU/Linux 12 (bookworm)", Platform: "debian", Version: "12.5", Arch: "amd64"},
		inventory.SectionSoftware: inventory.Software{Packages: []inventory.Package{
			pkg("bash", "5.2.15-2+b2"), pkg("curl", "7.88.1-10+deb12u5"), pkg("openssl", "3.0.11-1~deb12u2")}},
	})
	a.report(t, day2, map[string]any{
		inventory.SectionHost: inventory.Host{Hostname: "clone-a", HardwareUUID: strings.ToUpper(uuid), MachineID: "aaaa"},
		inventory.SectionOS:   inventory.OS{Name: "Debian GNU/Linux 12 (bookworm)", Platform: "debian", Version: "12.5", Arch: "amd64"},
		inventory.SectionSoftware: inventory.Software{Packages: []inventory.Package{
			pkg("bash", "5.2.15-2+b2"), pkg("htop", "3.2.2-2"), pkg("openssl", "3.0.13-1~deb12u1")}},
	})
	b := connectAgent(t, s, "clone-b")
	b.report(t, day1, map[string]any{
		inventory.SectionHost: inventory.Host{Hostname: "clone-b", HardwareUUID: uuid, MachineID: "bbbb"},
	})
	if a.hostID == b.hostID {
		t.Fatalf("both clones are host %d: they must stay two hosts", a.hostID)
	}

	// The table, as an admin reads it.
	out := s.ctl(t, "hosts", "changes", itoa(a.hostID))
	for _, want := range []string{
		"2025-03-02T09:00:00Z  software_upgraded   openssl  3.0.11-1~deb12u2   3.0.13-1~deb12u1",
		"2025-03-02T09:00:00Z  software_installed  htop     -                  3.2.2-2",
		"2025-03-02T09:00:00Z  software_removed    curl     7.88.1-10+deb12u5  -",
		"2025-03-01T09:00:00Z  first_inventory",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stewardctl hosts changes lacks %q:\n%s", want, out)
		}
	}
	// The exact rows, as JSON: the first inventory is one baseline, not
	// one row per package.
	var got struct {
		Changes []struct {
			HostID    int64     `json:"host_id"`
			Kind      string    `json:"kind"`
			Subject   string    `json:"subject"`
			OldValue  string    `json:"old_value"`
			NewValue  string    `json:"new_value"`
			FirstSeen time.Time `json:"first_seen"`
			Seq       uint64    `json:"seq"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(s.ctl(t, "-o", "json", "hosts", "changes", itoa(a.hostID))), &got); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, c := range got.Changes {
		if c.HostID != a.hostID {
			t.Errorf("change of host %d listed for host %d", c.HostID, a.hostID)
		}
		rows = append(rows, fmt.Sprintf("%s %s %s %s>%s #%d", c.FirstSeen.Format(time.RFC3339), c.Kind, c.Subject, c.OldValue, c.NewValue, c.Seq))
	}
	want := []string{
		"2025-03-02T09:00:00Z software_upgraded openssl 3.0.11-1~deb12u2>3.0.13-1~deb12u1 #2",
		"2025-03-02T09:00:00Z software_installed htop >3.2.2-2 #2",
		"2025-03-02T09:00:00Z software_removed curl 7.88.1-10+deb12u5> #2",
		"2025-03-01T09:00:00Z first_inventory  > #1",
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("changes of clone-a:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if out := s.ctl(t, "hosts", "changes", itoa(a.hostID), "--kind", "software_removed", "--since", "2025-03-02T00:00:00Z"); !strings.Contains(out, "curl") || strings.Contains(out, "openssl") {
		t.Errorf("filtered changes:\n%s", out)
	}

	// Duplicates: both flagged, nothing merged.
	var hosts struct {
		Hosts []struct {
			ID                 int64   `json:"id"`
			Hostname           string  `json:"hostname"`
			HardwareUUID       string  `json:"hardware_uuid"`
			PossibleDuplicates []int64 `json:"possible_duplicates"`
		} `json:"hosts"`
	}
	if code := s.get(t, "/api/v1/hosts?duplicates=true", &hosts); code != 200 {
		t.Fatalf("hosts?duplicates=true: HTTP %d", code)
	}
	if len(hosts.Hosts) != 2 || hosts.Hosts[0].Hostname != "clone-a" || hosts.Hosts[1].Hostname != "clone-b" ||
		fmt.Sprint(hosts.Hosts[0].PossibleDuplicates) != fmt.Sprintf("[%d]", b.hostID) ||
		fmt.Sprint(hosts.Hosts[1].PossibleDuplicates) != fmt.Sprintf("[%d]", a.hostID) ||
		hosts.Hosts[0].HardwareUUID != uuid {
		t.Errorf("flagged hosts = %+v", hosts.Hosts)
	}
	list := s.ctl(t, "hosts", "list")
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "clone-a") && !strings.HasSuffix(strings.TrimSpace(line), " "+itoa(b.hostID)) {
			t.Errorf("hosts list does not mark clone-a as a duplicate of %d: %q", b.hostID, line)
		}
	}
	if out := s.ctl(t, "hosts", "show", itoa(b.hostID)); !strings.Contains(out, "Duplicate of:   host "+itoa(a.hostID)) {
		t.Errorf("hosts show lacks the duplicate:\n%s", out)
	}
}

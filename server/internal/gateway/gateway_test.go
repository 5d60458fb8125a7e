package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// fakeStore is an in-memory Store and ingest Sink.
type fakeStore struct {
	mu        sync.Mutex
	secrets   map[string]int64 // hash -> id
	hosts     map[int64]*store.Host
	keys      map[string]int64 // node key hash -> host id
	applied   []store.Message
	down      bool // every call fails as if the database were gone
	resyncAll bool
	// enrollLabels holds the labels of each enrollment, in order.
	enrollLabels []map[string]string
	// disconnectCalls counts HostsDisconnected calls.
	disconnectCalls int
}

var errDown = errors.New("connection refused")

func newFakeStore() *fakeStore {
	return &fakeStore{secrets: map[string]int64{auth.Hash("s3cret"): 1}, hosts: map[int64]*store.Host{}, keys: map[string]int64{}}
}

func (f *fakeStore) EnrollSecretID(_ context.Context, hash string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, errDown
	}
	id, ok := f.secrets[hash]
	if !ok {
		return 0, store.ErrNotFound
	}
	return id, nil
}

func (f *fakeStore) EnrollHost(_ context.Context, h store.NewHost) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return 0, errDown
	}
	id := int64(len(f.hosts) + 1)
	f.hosts[id] = &store.Host{ID: id, Hostname: h.Hostname, EnrolledAt: h.EnrolledAt}
	f.keys[h.NodeKeyHash] = id
	f.enrollLabels = append(f.enrollLabels, h.Labels)
	return id, nil
}

func (f *fakeStore) HostsByNodeKeys(_ context.Context, hashes []string) (map[string]store.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	out := map[string]store.Host{}
	for _, hash := range hashes {
		if id, ok := f.keys[hash]; ok {
			out[hash] = *f.hosts[id]
		}
	}
	return out, nil
}

func (f *fakeStore) HostsConnected(_ context.Context, cs []store.Connect) ([]bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	missing := make([]bool, len(cs))
	for i, c := range cs {
		h := f.hosts[c.HostID]
		if h == nil {
			missing[i] = true
			continue
		}
		h.Hostname = c.Info.Hostname
		h.ConnectedAt = c.At
	}
	return missing, nil
}

func (f *fakeStore) HostsDisconnected(_ context.Context, ds []store.Disconnect) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnectCalls++
	for _, d := range ds {
		if h := f.hosts[d.HostID]; h != nil && d.At.After(h.DisconnectedAt) {
			h.DisconnectedAt = d.At
		}
	}
	return nil
}

func (f *fakeStore) ApplyBatch(_ context.Context, msgs []store.Message) ([]store.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errDown
	}
	res := make([]store.Result, len(msgs))
	for i, m := range msgs {
		h := f.hosts[m.HostID]
		if m.Seq <= h.LastSeq {
			res[i].Duplicate = true
			continue
		}
		h.LastSeq = m.Seq
		f.applied = append(f.applied, m)
		res[i].Resync = f.resyncAll
	}
	return res, nil
}

func (f *fakeStore) setDown(v bool) {
	f.mu.Lock()
	f.down = v
	f.mu.Unlock()
}

type harness struct {
	t   *testing.T
	st  *fakeStore
	gw  *Gateway
	srv *httptest.Server
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	st := newFakeStore()
	b := ingest.New(st, ingest.Config{})
	gw := New(Config{Store: st, Ingest: b, RetryAfter: 7 * time.Second, HeartbeatInterval: 5 * time.Second})
	return serve(t, st, b, gw)
}

// serve serves gw, which commits through b into st (nil when the test
// uses a real store), on a test server; the gateway, the server and b
// stop when the test ends.
func serve(t *testing.T, st *fakeStore, b *ingest.Batcher, gw *Gateway) *harness {
	t.Helper()
	mux := http.NewServeMux()
	gw.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		gw.Shutdown(context.Background())
		srv.Close()
		b.Stop()
	})
	return &harness{t: t, st: st, gw: gw, srv: srv}
}

func (h *harness) enroll(secret string) (*http.Response, map[string]any) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]string{"enroll_secret": secret, "hostname": "web-1"})
	resp, err := http.Post(h.srv.URL+"/agent/v1/enroll", "application/json", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func (h *harness) nodeKey() string {
	h.t.Helper()
	resp, out := h.enroll("s3cret")
	if resp.StatusCode != 200 {
		h.t.Fatalf("enroll: %d %v", resp.StatusCode, out)
	}
	return out["node_key"].(string)
}

func (h *harness) dial(key string) (*websocket.Conn, *http.Response, error) {
	hdr := http.Header{}
	if key != "" {
		hdr.Set("Authorization", "Bearer "+key)
	}
	url := "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/agent/v1/ws"
	// Compression negotiated, as real agents do.
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 10 * time.Second}
	return d.Dial(url, hdr)
}

// connect dials and completes the handshake.
func (h *harness) connect(key string) (*websocket.Conn, wire.Welcome) {
	h.t.Helper()
	ws, _, err := h.dial(key)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { ws.Close() })
	h.send(ws, wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, AgentVersion: "test", OS: "linux", Arch: "amd64", Hostname: "web-1"})
	env := h.read(ws)
	if env.Type != wire.TypeWelcome {
		h.t.Fatalf("got %s, want welcome", env.Type)
	}
	var w wire.Welcome
	json.Unmarshal(env.Payload, &w)
	return ws, w
}

func (h *harness) send(ws *websocket.Conn, typ string, seq uint64, payload any) {
	h.t.Helper()
	b, err := wire.Encode(typ, seq, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) read(ws *websocket.Conn) wire.Envelope {
	h.t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		h.t.Fatalf("read: %v", err)
	}
	env, err := wire.Decode(data)
	if err != nil {
		h.t.Fatal(err)
	}
	return env
}

// expectError reads an error frame with the given code, then the close.
func (h *harness) expectError(ws *websocket.Conn, code string) wire.Error {
	h.t.Helper()
	env := h.read(ws)
	if env.Type != wire.TypeError {
		h.t.Fatalf("got %s, want error", env.Type)
	}
	var e wire.Error
	json.Unmarshal(env.Payload, &e)
	if e.Code != code {
		h.t.Fatalf("error code %q (%s), want %q", e.Code, e.Message, code)
	}
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := ws.ReadMessage(); err == nil {
		h.t.Fatal("connection still open after error frame")
	}
	return e
}

func section(t *testing.T, name string, v any) wire.Section {
	data, err := inventory.Canonical(v)
	if err != nil {
		t.Fatal(err)
	}
	return wire.Section{Name: name, Hash: inventory.Hash(data), Data: data}
}

func TestEnroll(t *testing.T) {
	h := newHarness(t)
	resp, out := h.enroll("s3cret")
	if resp.StatusCode != 200 || len(out["node_key"].(string)) != 64 || out["host_id"].(float64) != 1 {
		t.Fatalf("enroll: %d %v", resp.StatusCode, out)
	}
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"wrong secret", `{"enroll_secret":"nope","hostname":"x"}`, 401},
		{"missing secret", `{"hostname":"x"}`, 401},
		{"not json", `enroll me`, 400},
		{"huge body", `{"enroll_secret":"` + strings.Repeat("a", 100<<10) + `"}`, 413},
		{"bad label key", `{"enroll_secret":"s3cret","hostname":"x","labels":{"my team":"web"}}`, 400},
		{"control character in a label", `{"enroll_secret":"s3cret","hostname":"x","labels":{"team":"a\u001b[2J"}}`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(h.srv.URL+"/agent/v1/enroll", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	if len(h.st.hosts) != 1 {
		t.Errorf("refused enrollments stored hosts: %d hosts", len(h.st.hosts))
	}
	// Labels from the agent's configuration reach the store with the host.
	resp, err := http.Post(h.srv.URL+"/agent/v1/enroll", "application/json",
		strings.NewReader(`{"enroll_secret":"s3cret","hostname":"lab","labels":{"team":"web","site":"paris"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(h.st.enrollLabels) != 2 || !maps.Equal(h.st.enrollLabels[1], map[string]string{"team": "web", "site": "paris"}) {
		t.Errorf("enroll with labels: status %d, labels stored %v", resp.StatusCode, h.st.enrollLabels)
	}
	h.st.setDown(true)
	resp, _ = h.enroll("s3cret")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("database down: status %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestWebSocketRefusedBeforeUpgrade(t *testing.T) {
	h := newHarness(t)
	key := h.nodeKey()
	for _, tc := range []struct {
		name, key string
		status    int
	}{
		{"no key", "", 401},
		{"wrong key", strings.Repeat("0", 64), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := h.dial(tc.key)
			if err == nil || resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("dial: err %v resp %v, want HTTP %d", err, resp, tc.status)
			}
		})
	}
	t.Run("browser origin", func(t *testing.T) {
		hdr := http.Header{"Authorization": {"Bearer " + key}, "Origin": {"https://evil.example"}}
		_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(h.srv.URL, "http")+"/agent/v1/ws", hdr)
		if err == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial with Origin: err %v resp %v", err, resp)
		}
	})
	t.Run("database down", func(t *testing.T) {
		h.st.setDown(true)
		defer h.st.setDown(false)
		_, resp, err := h.dial(key)
		if err == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
			t.Fatalf("dial: err %v resp %v", err, resp)
		}
	})
}

func TestHandshakeAndAcks(t *testing.T) {
	h := newHarness(t)
	ws, welcome := h.connect(h.nodeKey())
	if welcome.ProtocolVersion != 1 || welcome.HostID != 1 || time.Duration(welcome.HeartbeatInterval) != 5*time.Second {
		t.Fatalf("welcome %+v", welcome)
	}
	if h.gw.Connected() != 1 {
		t.Errorf("Connected() = %d", h.gw.Connected())
	}
	sec := section(t, "os", inventory.OS{Name: "Debian", Platform: "debian", Arch: "x86_64"})
	inv := wire.Inventory{CollectedAt: time.Now().UTC(), Digest: inventory.Digest(map[string]string{"os": sec.Hash}), Sections: []wire.Section{sec}}
	h.send(ws, wire.TypeInventory, 1, inv)
	h.send(ws, wire.TypeHeartbeat, 2, wire.Heartbeat{Time: time.Now()})
	h.send(ws, wire.TypeHeartbeat, 2, wire.Heartbeat{Time: time.Now()}) // re-sent: acked again
	for _, want := range []uint64{1, 2, 2} {
		env := h.read(ws)
		if env.Type != wire.TypeAck || env.Seq != want {
			t.Fatalf("got %s seq %d, want ack %d", env.Type, env.Seq, want)
		}
	}
	if len(h.st.applied) != 2 || h.st.applied[0].Inventory == nil {
		t.Errorf("applied %d messages, want 2 with the inventory first", len(h.st.applied))
	}
}

func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	h := newHarness(t)
	good, _ := h.connect(h.nodeKey())
	sec := section(t, "os", inventory.OS{Name: "x"})
	badHash := sec
	badHash.Hash = strings.Repeat("a", 64)
	tests := []struct {
		name  string
		frame func(ws *websocket.Conn)
		code  string
	}{
		{"garbage", func(ws *websocket.Conn) { ws.WriteMessage(websocket.TextMessage, []byte("\x00\x01garbage{")) }, wire.CodeBadMessage},
		{"unknown type", func(ws *websocket.Conn) { h.send(ws, "reboot", 5, map[string]any{}) }, wire.CodeBadMessage},
		{"no seq", func(ws *websocket.Conn) { h.send(ws, wire.TypeHeartbeat, 0, wire.Heartbeat{}) }, wire.CodeBadMessage},
		{"hash mismatch", func(ws *websocket.Conn) {
			h.send(ws, wire.TypeInventory, 9, wire.Inventory{Digest: strings.Repeat("b", 64), Sections: []wire.Section{badHash}})
		}, wire.CodeBadMessage},
		{"unknown section", func(ws *websocket.Conn) {
			s := section(t, "secrets", map[string]int{"x": 1})
			h.send(ws, wire.TypeInventory, 9, wire.Inventory{Digest: strings.Repeat("b", 64), Sections: []wire.Section{s}})
		}, wire.CodeBadMessage},
		{"binary frame", func(ws *websocket.Conn) { ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2}) }, wire.CodeBadMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws, _ := h.connect(h.nodeKey())
			tc.frame(ws)
			h.expectError(ws, tc.code)
		})
	}
	t.Run("oversized", func(t *testing.T) {
		ws, _ := h.connect(h.nodeKey())
		big := bytes.Repeat([]byte("x"), wire.MaxMessageBytes+1)
		ws.WriteMessage(websocket.TextMessage, big)
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := ws.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("read after oversized message: %v, want close 1009", err)
		}
	})
	t.Run("compression bomb", func(t *testing.T) {
		// 64 MiB of zeros, about 64 KiB on the wire: under the wire
		// limit, eight times the limit once inflated. The server must
		// stop inflating at the limit and close with 1009.
		ws, _ := h.connect(h.nodeKey())
		ws.WriteMessage(websocket.TextMessage, make([]byte, 8*wire.MaxMessageBytes))
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := ws.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("read after a compression bomb: %v, want close 1009", err)
		}
	})
	t.Run("no hello", func(t *testing.T) {
		ws, _, err := h.dial(h.nodeKey())
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		h.send(ws, wire.TypeHeartbeat, 1, wire.Heartbeat{})
		h.expectError(ws, wire.CodeBadMessage)
	})
	t.Run("unsupported version", func(t *testing.T) {
		ws, _, err := h.dial(h.nodeKey())
		if err != nil {
			t.Fatal(err)
		}
		defer ws.Close()
		h.send(ws, wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{7}})
		h.expectError(ws, wire.CodeUnsupported)
	})
	// The first connection still works.
	h.send(good, wire.TypeHeartbeat, 1, wire.Heartbeat{})
	if env := h.read(good); env.Type != wire.TypeAck || env.Seq != 1 {
		t.Fatalf("good connection: got %s %d", env.Type, env.Seq)
	}
}

func TestDatabaseDownTellsAgentToBackOff(t *testing.T) {
	h := newHarness(t)
	ws, _ := h.connect(h.nodeKey())
	h.st.setDown(true)
	h.send(ws, wire.TypeHeartbeat, 1, wire.Heartbeat{})
	e := h.expectError(ws, wire.CodeUnavailable)
	if time.Duration(e.RetryAfter) != 7*time.Second {
		t.Errorf("retry_after %v, want 7s", time.Duration(e.RetryAfter))
	}
}

func TestSecondConnectionReplacesFirst(t *testing.T) {
	h := newHarness(t)
	key := h.nodeKey()
	first, _ := h.connect(key)
	second, _ := h.connect(key)
	h.expectError(first, wire.CodeBadMessage)
	h.send(second, wire.TypeHeartbeat, 1, wire.Heartbeat{})
	if env := h.read(second); env.Type != wire.TypeAck {
		t.Fatalf("second connection got %s", env.Type)
	}
	if n := h.gw.Connected(); n != 1 {
		t.Errorf("Connected() = %d, want 1", n)
	}
}

func TestShutdownTellsAgents(t *testing.T) {
	h := newHarness(t)
	ws, _ := h.connect(h.nodeKey())
	go h.gw.Shutdown(context.Background())
	h.expectError(ws, wire.CodeShutdown)
	_, resp, err := h.dial(h.nodeKey())
	if err == nil || resp.StatusCode != 503 {
		t.Fatalf("dial after shutdown: %v %v", err, resp)
	}
}

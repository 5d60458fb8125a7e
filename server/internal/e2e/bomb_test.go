package e2e

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/wire"
)

// The attacks below are sent as single raw WebSocket frames, written on
// the socket past the WebSocket library, which would split a large
// message into many frames.
const (
	bombInflated  = 1 << 30     // what the compression bomb inflates to
	hugeFrameSize = 100_000_000 // the declared length of the plain oversized frame
	// rssAllowance is how far a process's peak resident memory may rise
	// above its level before an attack.
	rssAllowance = 64 << 20
)

// deflateBomb is a permessage-deflate payload (raw DEFLATE without the
// final empty block's trailer) that inflates to prefix followed by
// bombInflated-len(prefix) spaces: about a megabyte on the wire.
func deflateBomb(t *testing.T, prefix string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write([]byte(prefix))
	chunk := bytes.Repeat([]byte(" "), 1<<20)
	for left := bombInflated - len(prefix); left > 0; left -= len(chunk) {
		zw.Write(chunk[:min(left, len(chunk))])
	}
	if err := zw.Flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatal("flush did not end with an empty stored block")
	}
	return out[:len(out)-4]
}

// frameHeader is the header of one final text frame of length n; masked
// frames (client to server) carry a zero masking key, so the payload
// goes out as it is.
func frameHeader(n uint64, compressed, masked bool) []byte {
	b0 := byte(0x80 | websocket.TextMessage)
	if compressed {
		b0 |= 0x40 // RSV1: the permessage-deflate bit
	}
	var mask byte
	if masked {
		mask = 0x80
	}
	h := []byte{b0}
	switch {
	case n < 126:
		h = append(h, mask|byte(n))
	case n <= 0xffff:
		h = append(h, mask|126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h = append(h, mask|127)
		h = binary.BigEndian.AppendUint64(h, n)
	}
	if masked {
		h = append(h, 0, 0, 0, 0)
	}
	return h
}

// sendRaw writes header then payload (payload nil: zeros up to size) on
// conn in chunks, until done is closed or a write fails: the peer may
// close the connection long before the frame is through.
func sendRaw(conn net.Conn, header, payload []byte, size int, done <-chan struct{}) {
	if _, err := conn.Write(header); err != nil {
		return
	}
	zeros := make([]byte, 1<<20)
	for off := 0; off < size; {
		select {
		case <-done:
			return
		default:
		}
		chunk := zeros[:min(len(zeros), size-off)]
		if payload != nil {
			chunk = payload[off:min(len(payload), off+len(zeros))]
		}
		conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		n, err := conn.Write(chunk)
		off += n
		if err != nil {
			return
		}
	}
}

// memory reads a process's resident set and its peak, in bytes.
func memory(t *testing.T, pid int) (rss, peak int64) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("memory of process %d: %v (the test needs Linux's /proc)", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(sc.Text(), "VmRSS: %d kB", &kb); err == nil {
			rss = kb << 10
		}
		if _, err := fmt.Sscanf(sc.Text(), "VmHWM: %d kB", &kb); err == nil {
			peak = kb << 10
		}
	}
	if rss == 0 || peak == 0 {
		t.Fatalf("no VmRSS or VmHWM in /proc/%d/status", pid)
	}
	return rss, peak
}

// resetPeak starts a new peak measurement at the current resident set
// and returns it.
func resetPeak(t *testing.T, pid int) int64 {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatalf("reset the peak memory of process %d: %v (the test needs to write /proc/PID/clear_refs)", pid, err)
	}
	rss, _ := memory(t, pid)
	return rss
}

// agentConn is a hand-driven agent connection to a real server.
type agentConn struct {
	ws  *websocket.Conn
	seq uint64
}

func dialAgent(t *testing.T, s *server, key, hostname string) *agentConn {
	t.Helper()
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 30 * time.Second}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(s.url, "http")+"/agent/v1/ws", http.Header{"Authorization": {"Bearer " + key}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	hello, _ := wire.Encode(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, OS: "linux", Hostname: hostname})
	ws.WriteMessage(websocket.TextMessage, hello)
	ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, msg, err := ws.ReadMessage()
	var welcome struct {
		Type    string       `json:"type"`
		Payload wire.Welcome `json:"payload"`
	}
	if err != nil || json.Unmarshal(msg, &welcome) != nil || welcome.Type != wire.TypeWelcome {
		t.Fatalf("handshake: %v %s", err, msg)
	}
	return &agentConn{ws: ws, seq: welcome.Payload.LastSeq}
}

// heartbeat sends one heartbeat and waits for its ack.
func (a *agentConn) heartbeat() error {
	a.seq++
	b, _ := wire.Encode(wire.TypeHeartbeat, a.seq, wire.Heartbeat{Time: time.Now()})
	a.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := a.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return err
	}
	for {
		a.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, data, err := a.ws.ReadMessage()
		if err != nil {
			return err
		}
		env, err := wire.Decode(data)
		if err != nil {
			return err
		}
		if env.Type == wire.TypeAck && env.Seq == a.seq {
			return nil
		}
		if env.Type == wire.TypeError {
			return fmt.Errorf("server error: %s", env.Payload)
		}
	}
}

func enrollKey(t *testing.T, s *server, hostname string) string {
	t.Helper()
	secret := readSecret(t, filepath.Join(s.dataDir, "enroll-secret"))
	body, _ := json.Marshal(map[string]string{"enroll_secret": secret, "hostname": hostname})
	resp, err := http.Post(s.url+"/agent/v1/enroll", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		NodeKey string `json:"node_key"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if out.NodeKey == "" {
		t.Fatalf("enroll: HTTP %d", resp.StatusCode)
	}
	return out.NodeKey
}

// TestServerSurvivesOversizedFrames: an enrolled agent's connection sends
// a compression bomb (one permessage-deflate frame of about a megabyte
// that inflates to 1 GiB) and then a frame declaring 100 MB. Each time
// the server closes that connection with 1009, its peak resident memory
// stays within rssAllowance of what it was before the attack, and
// another agent connected meanwhile keeps getting its acks.
func TestServerSurvivesOversizedFrames(t *testing.T) {
	t.Parallel()
	bomb := deflateBomb(t, `{"type":"heartbeat","seq":1,"payload":{"time":"`)
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	pid := s.cmd.Process.Pid

	// The bystander sends heartbeats one after another for the whole
	// test; acks counts those acknowledged.
	bystander := dialAgent(t, s, enrollKey(t, s, "bystander"), "bystander")
	var (
		mu     sync.Mutex
		acks   int
		hbErr  error
		stop   = make(chan struct{})
		hbDone = make(chan struct{})
	)
	go func() {
		defer close(hbDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			err := bystander.heartbeat()
			mu.Lock()
			if err != nil {
				hbErr = err
			} else {
				acks++
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	ackCount := func() (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return acks, hbErr
	}
	waitAcks := func(what string, above int) int {
		t.Helper()
		eventually(t, 60*time.Second, "bystander acks "+what, func() (bool, string) {
			n, err := ackCount()
			if err != nil {
				t.Fatalf("bystander lost its connection %s: %v", what, err)
			}
			return n > above, fmt.Sprint(n, " acks")
		})
		n, _ := ackCount()
		return n
	}
	seen := waitAcks("before the attacks", 5)

	attackerKey := enrollKey(t, s, "attacker")
	for _, attack := range []struct {
		name    string
		header  []byte
		payload []byte
		size    int
	}{
		{"compression bomb", frameHeader(uint64(len(bomb)), true, true), bomb, len(bomb)},
		{"100 MB frame", frameHeader(hugeFrameSize, false, true), nil, hugeFrameSize},
	} {
		t.Run(attack.name, func(t *testing.T) {
			attacker := dialAgent(t, s, attackerKey, "attacker")
			baseline := resetPeak(t, pid)
			closed := make(chan error, 1)
			go func() {
				for {
					attacker.ws.SetReadDeadline(time.Now().Add(60 * time.Second))
					if _, _, err := attacker.ws.ReadMessage(); err != nil {
						closed <- err
						return
					}
				}
			}()
			done := make(chan struct{})
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				sendRaw(attacker.ws.NetConn(), attack.header, attack.payload, attack.size, done)
			}()
			err := <-closed
			close(done)
			<-sent
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Errorf("attacker's connection ended with %v, want close 1009", err)
			}
			_, peak := memory(t, pid)
			t.Logf("%s: server RSS before %d MiB, peak during %d MiB (+%d MiB)", attack.name,
				baseline>>20, peak>>20, (peak-baseline)>>20)
			if peak-baseline >= rssAllowance {
				t.Errorf("server peak RSS rose %d MiB during the %s, allowed under %d MiB",
					(peak-baseline)>>20, attack.name, rssAllowance>>20)
			}
			seen = waitAcks("after the "+attack.name, seen)
		})
	}
	close(stop)
	<-hbDone
	if _, err := ackCount(); err != nil {
		t.Fatalf("bystander: %v", err)
	}
	eventually(t, 30*time.Second, "both oversized messages logged", func() (bool, string) {
		n := strings.Count(s.Output(), "message too large")
		return n >= 2, fmt.Sprint(n, " logged")
	})
	if s.exited() {
		t.Fatalf("server exited:\n%s", s.Output())
	}
}

// fakeAgentServer is just enough of steward-server for one agent: it
// enrolls it and hands each WebSocket connection to the test.
type fakeAgentServer struct {
	*httptest.Server
	conns chan *websocket.Conn
}

func newFakeAgentServer(t *testing.T) *fakeAgentServer {
	t.Helper()
	fs := &fakeAgentServer{conns: make(chan *websocket.Conn, 8)}
	up := websocket.Upgrader{EnableCompression: true}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /agent/v1/enroll", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"host_id":1,"node_key":"` + strings.Repeat("ab", 32) + `"}`))
	})
	mux.HandleFunc("GET /agent/v1/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		fs.conns <- ws
	})
	fs.Server = httptest.NewServer(mux)
	t.Cleanup(fs.Close)
	return fs
}

// accept returns the agent's next connection with its hello read.
func (fs *fakeAgentServer) accept(t *testing.T) (*websocket.Conn, wire.Hello) {
	t.Helper()
	var ws *websocket.Conn
	select {
	case ws = <-fs.conns:
	case <-time.After(60 * time.Second):
		t.Fatal("the agent did not connect")
	}
	t.Cleanup(func() { ws.Close() })
	env := readEnv(t, ws)
	var hello wire.Hello
	if env.Type != wire.TypeHello || json.Unmarshal(env.Payload, &hello) != nil {
		t.Fatalf("got %s, want hello", env.Type)
	}
	return ws, hello
}

func readEnv(t *testing.T, ws *websocket.Conn) wire.Envelope {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read from the agent: %v", err)
	}
	env, err := wire.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func sendEnv(t *testing.T, ws *websocket.Conn, typ string, seq uint64, payload any) {
	t.Helper()
	b, _ := wire.Encode(typ, seq, payload)
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
}

// welcomeAgent welcomes a connection and acks the inventory the agent
// sends first.
func welcomeAgent(t *testing.T, ws *websocket.Conn) {
	t.Helper()
	sendEnv(t, ws, wire.TypeWelcome, 0, wire.Welcome{ProtocolVersion: 1, HostID: 1, ServerTime: time.Now().UTC(),
		InventoryInterval: wire.Duration(time.Hour), HeartbeatInterval: wire.Duration(time.Second)})
	for {
		env := readEnv(t, ws)
		if env.Type == wire.TypeInventory {
			sendEnv(t, ws, wire.TypeAck, env.Seq, wire.Ack{})
			return
		}
		if env.Type == wire.TypeHeartbeat {
			sendEnv(t, ws, wire.TypeAck, env.Seq, wire.Ack{})
		}
	}
}

// TestAgentRefusesOversizedPolicySet: a server sends the real agent a
// policy_set that is a compression bomb (inflating to 1 GiB), then a
// frame declaring 100 MB. The agent closes each connection with 1009
// without its peak resident memory rising past rssAllowance, keeps no
// part of either, and goes on working on its next connection.
func TestAgentRefusesOversizedPolicySet(t *testing.T) {
	t.Parallel()
	bomb := deflateBomb(t, `{"type":"policy_set","seq":0,"payload":{"revision":9,"policies":[`)
	fs := newFakeAgentServer(t)
	agent := start(t, "steward-agent", "run", "--server", fs.URL, "--enroll-secret", "s3cret",
		"--state-dir", filepath.Join(t.TempDir(), "agent"), "--log-level", "debug")
	pid := agent.cmd.Process.Pid

	for _, attack := range []struct {
		name    string
		header  []byte
		payload []byte
		size    int
	}{
		{"compression bomb", frameHeader(uint64(len(bomb)), true, false), bomb, len(bomb)},
		{"100 MB frame", frameHeader(hugeFrameSize, false, false), nil, hugeFrameSize},
	} {
		ws, _ := fs.accept(t)
		welcomeAgent(t, ws)
		baseline := resetPeak(t, pid)
		done := make(chan struct{})
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			sendRaw(ws.NetConn(), attack.header, attack.payload, attack.size, done)
		}()
		var err error
		for err == nil {
			ws.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, _, err = ws.ReadMessage() // heartbeats until the agent gives up
		}
		close(done)
		<-sent
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Errorf("%s: the agent's connection ended with %v, want close 1009", attack.name, err)
		}
		// The next connection waits for its welcome until this is read.
		_, peak := memory(t, pid)
		t.Logf("%s: agent RSS before %d MiB, peak during %d MiB (+%d MiB)", attack.name,
			baseline>>20, peak>>20, (peak-baseline)>>20)
		if peak-baseline >= rssAllowance {
			t.Errorf("agent peak RSS rose %d MiB during the %s, allowed under %d MiB",
				(peak-baseline)>>20, attack.name, rssAllowance>>20)
		}
	}

	// Still usable: it reconnects holding no policy set, reports and
	// answers.
	ws, hello := fs.accept(t)
	if hello.PolicyRevision != 0 {
		t.Errorf("the agent holds policy revision %d after refusing every set", hello.PolicyRevision)
	}
	welcomeAgent(t, ws)
	env := readEnv(t, ws)
	if env.Type != wire.TypeHeartbeat {
		t.Fatalf("got %s, want a heartbeat", env.Type)
	}
	sendEnv(t, ws, wire.TypeAck, env.Seq, wire.Ack{})
	if agent.exited() {
		t.Fatalf("agent exited:\n%s", agent.Output())
	}
}

package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/shared/wire"
)

// DurableAgent is one simulated agent that outlives its server, for crash
// tests: unlike the fleet's agents it keeps every data message it sent
// until the server acknowledges it and, when the connection is lost, dials
// again and re-sends those messages in order with their sequence numbers,
// as the agent's spool does. OnAck hears of each acknowledged message
// once, so a test knows exactly what the server promised to have stored.
//
// A DurableAgent is used from one goroutine; it runs one reader goroutine
// per connection of its own.
type DurableAgent struct {
	Server  string // base URL, http or https
	NodeKey string
	// Hello is what the agent says in hello; ProtocolVersions is filled
	// in when empty.
	Hello wire.Hello
	// Window bounds the data messages sent and not acknowledged; Send
	// waits for acks above it. 0 means 1.
	Window int
	// OnAck, when set, is called once per acknowledged data message, on
	// the caller's goroutine, with the ack's resync flag.
	OnAck  func(seq uint64, resync bool)
	Dialer *websocket.Dialer

	// HostID is the server's id for the host, from welcome.
	HostID int64
	// Counters: connections made after the first, messages written again
	// on a new connection, acks for no spooled message.
	Redials, Resent, Unexpected int

	seq    uint64
	spool  []spooled
	conn   *durableConn
	dialed bool
}

type spooled struct {
	seq   uint64
	frame []byte
}

// durableConn is one connection: its reader hands acks over on events and
// closes done when the connection ends.
type durableConn struct {
	ws     *websocket.Conn
	events chan wire.Envelope
	done   chan struct{}
}

// EnrollDurable enrolls hostname with the enroll secret and returns an
// agent holding the node key, not yet connected.
func EnrollDurable(ctx context.Context, client *http.Client, server, secret, hostname string) (*DurableAgent, error) {
	server = strings.TrimRight(server, "/")
	body, _ := json.Marshal(map[string]string{"enroll_secret": secret, "hostname": hostname})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/agent/v1/enroll", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enroll %q: %w", hostname, err)
	}
	defer resp.Body.Close()
	var out struct {
		NodeKey string `json:"node_key"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.NodeKey == "" {
		return nil, fmt.Errorf("enroll %q: HTTP %d", hostname, resp.StatusCode)
	}
	return &DurableAgent{Server: server, NodeKey: out.NodeKey,
		Hello: wire.Hello{AgentVersion: "steward-loadgen", OS: "linux", Arch: "amd64", Hostname: hostname}}, nil
}

// Connect dials until the server welcomes the agent or ctx ends. The
// first welcome's last_seq is where the agent's numbering continues.
func (a *DurableAgent) Connect(ctx context.Context) error {
	for a.conn == nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.dial(ctx); err != nil {
			// Pace the redials while the server is down.
			select {
			case <-ctx.Done():
			case <-time.After(50*time.Millisecond + rand.N(100*time.Millisecond)):
			}
		}
	}
	return nil
}

func (a *DurableAgent) dial(ctx context.Context) error {
	d := a.Dialer
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	}
	wsURL := "ws" + strings.TrimPrefix(a.Server, "http") + "/agent/v1/ws"
	ws, resp, err := d.DialContext(ctx, wsURL, http.Header{"Authorization": {"Bearer " + a.NodeKey}})
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return err
	}
	ws.SetReadLimit(wire.MaxMessageBytes)
	hello := a.Hello
	if len(hello.ProtocolVersions) == 0 {
		hello.ProtocolVersions = []int{wire.ProtocolVersion}
	}
	frame, err := wire.Encode(wire.TypeHello, 0, hello)
	if err != nil {
		ws.Close()
		return err
	}
	ws.SetWriteDeadline(time.Now().Add(writeWait))
	if err := ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		ws.Close()
		return err
	}
	var w wire.Welcome
	for welcomed := false; !welcomed; {
		ws.SetReadDeadline(time.Now().Add(welcomeWait))
		_, data, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return err
		}
		env, err := wire.Decode(data)
		if err != nil {
			ws.Close()
			return err
		}
		switch env.Type {
		case wire.TypeWelcome:
			if err := wire.DecodePayload(env, &w); err != nil {
				ws.Close()
				return err
			}
			welcomed = true
		case wire.TypeError:
			ws.Close()
			return fmt.Errorf("server refused the connection: %s", env.Payload)
		}
	}
	ws.SetReadDeadline(time.Time{})
	a.HostID = w.HostID
	if a.dialed {
		a.Redials++
	}
	a.dialed = true
	if len(a.spool) == 0 && a.seq < w.LastSeq {
		a.seq = w.LastSeq
	}
	c := &durableConn{ws: ws, events: make(chan wire.Envelope, 2*max(a.Window, 1)+64), done: make(chan struct{})}
	go c.read()
	a.conn = c
	// What the last connection left unacknowledged goes again, in order;
	// the server acknowledges what it had already applied as duplicates.
	for _, m := range a.spool {
		if err := a.write(m.frame); err != nil {
			a.drop()
			return err
		}
		a.Resent++
	}
	return nil
}

func (c *durableConn) read() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		env, err := wire.Decode(data)
		if err != nil || (env.Type != wire.TypeAck && env.Type != wire.TypeError) {
			continue // policy sets, check_now
		}
		c.events <- env
	}
}

func (a *DurableAgent) write(frame []byte) error {
	a.conn.ws.SetWriteDeadline(time.Now().Add(writeWait))
	a.conn.ws.EnableWriteCompression(len(frame) >= compressMin)
	return a.conn.ws.WriteMessage(websocket.TextMessage, frame)
}

// drop ends the current connection after taking in the acks its reader
// had already handed over.
func (a *DurableAgent) drop() {
	if a.conn == nil {
		return
	}
	c := a.conn
	a.conn = nil
	c.ws.Close()
	<-c.done
	for {
		select {
		case env := <-c.events:
			if env.Type == wire.TypeAck {
				a.acked(env)
			}
		default:
			return
		}
	}
}

// Send numbers and spools one data message, writes it if connected, and
// returns its sequence number once fewer than Window messages are
// unacknowledged (connecting again as often as needed), or ctx's error.
func (a *DurableAgent) Send(ctx context.Context, typ string, payload any) (uint64, error) {
	seq := a.seq + 1
	frame, err := wire.Encode(typ, seq, payload)
	if err != nil {
		return 0, err
	}
	a.seq = seq
	a.spool = append(a.spool, spooled{seq: seq, frame: frame})
	if a.conn != nil {
		if err := a.write(frame); err != nil {
			a.drop()
		}
	}
	for len(a.spool) >= max(a.Window, 1) {
		if err := a.await(ctx); err != nil {
			return seq, err
		}
	}
	return seq, nil
}

// Drain waits until every spooled message is acknowledged.
func (a *DurableAgent) Drain(ctx context.Context) error {
	for len(a.spool) > 0 {
		if err := a.await(ctx); err != nil {
			return err
		}
	}
	return nil
}

// NextSeq is the sequence number the next Send gives its message.
func (a *DurableAgent) NextSeq() uint64 { return a.seq + 1 }

// Unacked is the number of spooled messages.
func (a *DurableAgent) Unacked() int { return len(a.spool) }

// await handles one event: an ack, or the connection's end (then it
// connects again, re-sending the spool).
func (a *DurableAgent) await(ctx context.Context) error {
	if a.conn == nil {
		if err := a.Connect(ctx); err != nil {
			return err
		}
		return nil
	}
	c := a.conn
	select {
	case <-ctx.Done():
		return ctx.Err()
	case env := <-c.events:
		if env.Type == wire.TypeError {
			// The close follows; a refused message would only be refused
			// again, so that one ends the agent's work.
			var e wire.Error
			_ = wire.DecodePayload(env, &e)
			if e.Code == wire.CodeBadMessage {
				a.drop()
				return fmt.Errorf("the server refused a message: %s", e.Message)
			}
			return nil
		}
		a.acked(env)
	case <-c.done:
		a.drop()
	}
	return nil
}

func (a *DurableAgent) acked(env wire.Envelope) {
	i := slices.IndexFunc(a.spool, func(m spooled) bool { return m.seq == env.Seq })
	if i < 0 {
		a.Unexpected++
		return
	}
	a.spool = slices.Delete(a.spool, i, i+1)
	var ack wire.Ack
	if len(env.Payload) > 0 {
		_ = wire.DecodePayload(env, &ack)
	}
	if a.OnAck != nil {
		a.OnAck(env.Seq, ack.Resync)
	}
}

// Close sends a close frame and ends the connection; what is spooled
// stays unacknowledged.
func (a *DurableAgent) Close() error {
	if a.conn == nil {
		return nil
	}
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	err := a.conn.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWait))
	a.drop()
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		return err
	}
	return nil
}

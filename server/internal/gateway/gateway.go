package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/limits"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/labels"
	"github.com/steward-project/steward/shared/wire"
)

// Store is what the gateway needs from storage.
type Store interface {
	EnrollSecretID(ctx context.Context, hash string) (int64, error)
	EnrollHost(ctx context.Context, h store.NewHost) (int64, error)
	// HostsByNodeKeys authenticates agents: the connections of a fleet
	// reconnecting together look up their node keys together (gatherer).
	HostsByNodeKeys(ctx context.Context, nodeKeyHashes []string) (map[string]store.Host, error)
	HostsConnected(ctx context.Context, cs []store.Connect) (missing []bool, err error)
	HostsDisconnected(ctx context.Context, ds []store.Disconnect) error
}

// Submitter queues a data message for commit; ingest.Batcher is one.
type Submitter interface {
	Submit(ctx context.Context, msg store.Message, done ingest.Done) error
}

// Config wires a Gateway.
type Config struct {
	Store  Store
	Ingest Submitter
	// Policies, when set, lets agents receive their policy set and
	// report results.
	Policies PolicyStore
	// ResultsApplied, when set, is called after an agent's results were
	// committed, with the status changes they made (alert evaluation
	// follows them). It must only note work, never wait.
	ResultsApplied func([]store.Transition)
	// HostConnected, when set, is called once a host's agent has its
	// welcome and policy set queued (the compliance evaluator then sends
	// its expr answers, answers.go). It must only note work, never wait.
	HostConnected func(hostID int64)
	// ResultWriters is how many results transactions may run at once
	// (default 1; SQLite has one writer anyway).
	ResultWriters     int
	Logger            *slog.Logger
	Metrics           *metrics.Metrics
	InventoryInterval time.Duration
	HeartbeatInterval time.Duration
	// RetryAfter is what agents are told to wait when the database is down.
	RetryAfter time.Duration
	// PingInterval and PongWait bound how long a silent peer is kept.
	PingInterval time.Duration
	PongWait     time.Duration
	HelloTimeout time.Duration
	// Guard, when set, rate-limits enroll secrets and node keys and the
	// failed attempts of each client address (package limits).
	Guard *limits.Guard
	// Agents, when set, caps the agent WebSocket connections, from the
	// upgrade request to the socket's close: past it an agent is answered
	// 503 with Retry-After, before its node key is looked up, and the
	// rest of the server's connection cap stays for API requests.
	Agents *limits.Share

	// AckQueue bounds the acks waiting for one connection's writer
	// (default DefaultAckQueue); past it the agent counts as not reading
	// and is dropped.
	AckQueue int
	// WriteWait bounds one frame write (default 10 s).
	WriteWait time.Duration
	// Window bounds each connection's messages in flight (window.go).
	Window WindowConfig
	// AckDelay is how long a connection's writer, woken by an ack while
	// more of the connection's messages are in flight, waits for their
	// acks before it writes, so that acks leave together (default
	// DefaultAckDelay; negative: none).
	AckDelay time.Duration
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.InventoryInterval <= 0 {
		c.InventoryInterval = time.Hour
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 30 * time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = 30 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.PongWait <= 0 {
		c.PongWait = 2 * c.PingInterval
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = 10 * time.Second
	}
	if c.AckQueue <= 0 {
		c.AckQueue = DefaultAckQueue
	}
	if c.WriteWait <= 0 {
		c.WriteWait = defaultWriteWait
	}
	c.Window.setDefaults()
	if c.AckDelay == 0 {
		c.AckDelay = DefaultAckDelay
	}
}

// Gateway serves /agent/v1/enroll and /agent/v1/ws and tracks live
// connections, one per host.
type Gateway struct {
	cfg      Config
	upgrader websocket.Upgrader

	mu     sync.Mutex
	conns  map[int64]*conn
	closed bool
	wg     sync.WaitGroup

	policies policySet
	results  *resultsCommitter
	// live keeps every connection's read deadline and pings.
	live *liveness

	// writeErrors limits the warnings of failed writes to agents.
	writeErrors rateLimitedLog
	// acksInline counts the acks writeAcksInline sent itself, not
	// through a writer goroutine.
	acksInline atomic.Uint64
	// agentsRefused limits the warnings of agents refused over
	// Config.Agents.
	agentsRefused rateLimitedLog
	// connects records agents' hellos in batches.
	connects *connectRecorder
	// disconnects records agents' disconnections in batches.
	disconnects *disconnectRecorder
	// nodeKeys looks up agents' node keys in batches.
	nodeKeys *gatherer[string, store.Host]
	// labelReads and refusalReads read hosts' labels (for welcomes) and
	// stored policy refusals (at first heartbeats) in batches; nil when
	// Config.Policies keeps none.
	labelReads   *gatherer[int64, map[string]string]
	refusalReads *gatherer[int64, *store.PolicyRefusal]
}

// New builds a Gateway.
func New(cfg Config) *Gateway {
	cfg.setDefaults()
	g := &Gateway{
		cfg:         cfg,
		results:     &resultsCommitter{st: cfg.Policies, applied: cfg.ResultsApplied, max: max(cfg.ResultWriters, 1)},
		conns:       make(map[int64]*conn),
		live:        newLiveness(cfg.PingInterval, cfg.PongWait),
		connects:    newConnectRecorder(cfg.Store),
		disconnects: newDisconnectRecorder(cfg.Store, cfg.Logger),
		nodeKeys:    nodeKeyReads(cfg.Store),
		upgrader: websocket.Upgrader{
			HandshakeTimeout: 10 * time.Second,
			// A read buffer of its own, smaller than the HTTP server's
			// (which is let go with the handler): most agent messages are
			// a few hundred bytes, and larger reads bypass the buffer.
			ReadBufferSize: readBufferSize,
			// Writes take a buffer from a shared pool for the length of a
			// message, so an idle connection holds none.
			WriteBufferSize:   writeBufferSize,
			WriteBufferPool:   writeBuffers,
			EnableCompression: true,
			// Agents send no Origin header; a browser always does. Refusing
			// any Origin keeps web pages from opening agent sessions.
			CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
		},
	}
	if ls, ok := cfg.Policies.(LabelStore); ok {
		g.labelReads = hostReads(ls.HostsLabels)
	}
	if ss, ok := cfg.Policies.(SigningStore); ok {
		g.refusalReads = hostReads(ss.PolicyRefusals)
	}
	return g
}

// Register mounts the agent endpoints on mux.
func (g *Gateway) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /agent/v1/enroll", g.enroll)
	mux.HandleFunc("GET /agent/v1/ws", g.serveWS)
}

// Connected returns how many agents have a live, welcomed connection.
func (g *Gateway) Connected() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.conns)
}

// Shutdown tells every connected agent the server is stopping, closes the
// connections, waits for their goroutines and records their
// disconnections, or until ctx ends. Disconnections not recorded by then
// are tried once more and dropped.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	conns := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	g.policies.reload.stop()
	for _, c := range conns {
		c.fail(errorFrame(wire.CodeShutdown, "server is shutting down", 5*time.Second).as(metrics.DisconnectShutdown))
	}
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		g.disconnects.stop()
		return ctx.Err()
	}
	if err := g.disconnects.flush(ctx); err != nil {
		g.disconnects.stop()
		return fmt.Errorf("record disconnections: %w", err)
	}
	return nil
}

// FlushDisconnections records the agent disconnections waiting to be
// written (they go in batches, a short delay after the first) and
// returns once none waits, or when ctx ends.
func (g *Gateway) FlushDisconnections(ctx context.Context) error {
	return g.disconnects.flush(ctx)
}

type enrollRequest struct {
	EnrollSecret string `json:"enroll_secret"`
	Hostname     string `json:"hostname"`
	// Labels are those the agent's configuration gives (a package built
	// with labels puts them there); the host is created with them.
	Labels map[string]string `json:"labels,omitempty"`
}

type enrollResponse struct {
	HostID  int64  `json:"host_id"`
	NodeKey string `json:"node_key"`
}

func (g *Gateway) enroll(w http.ResponseWriter, r *http.Request) {
	var req enrollRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	if err := dec.Decode(&req); err != nil {
		g.countEnroll("error")
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("enroll request larger than %d bytes", tooLarge.Limit))
			return
		}
		writeJSONError(w, http.StatusBadRequest, "malformed enroll request: "+err.Error())
		return
	}
	secretHash := ""
	if req.EnrollSecret != "" {
		secretHash = auth.Hash(req.EnrollSecret)
	}
	if !g.cfg.Guard.Check(w, r, limits.EnrollSecret, secretHash) {
		g.countEnroll("refused")
		return
	}
	if req.EnrollSecret == "" {
		g.countEnroll("refused")
		g.cfg.Guard.Result(r, false, "enroll: no enroll secret")
		writeJSONError(w, http.StatusUnauthorized, "enroll secret required")
		return
	}
	if len(req.Hostname) > 255 {
		g.countEnroll("error")
		writeJSONError(w, http.StatusBadRequest, "hostname longer than 255 bytes")
		return
	}
	if err := labels.Check(req.Labels); err != nil {
		g.countEnroll("error")
		writeJSONError(w, http.StatusBadRequest, "enroll request: "+err.Error())
		return
	}
	ctx := r.Context()
	secretID, err := g.cfg.Store.EnrollSecretID(ctx, secretHash)
	if errors.Is(err, store.ErrNotFound) {
		g.countEnroll("refused")
		g.cfg.Guard.Result(r, false, "enroll: unknown enroll secret")
		writeJSONError(w, http.StatusUnauthorized, "enroll secret refused")
		return
	}
	if err != nil {
		g.unavailable(w, "enroll: look up secret", err)
		return
	}
	g.cfg.Guard.Result(r, true, "")
	key := auth.NewSecret()
	id, err := g.cfg.Store.EnrollHost(ctx, store.NewHost{
		NodeKeyHash:    auth.Hash(key),
		Hostname:       req.Hostname,
		EnrollSecretID: secretID,
		EnrolledAt:     time.Now().UTC(),
		Labels:         req.Labels,
	})
	if errors.Is(err, store.ErrNotFound) {
		// The secret reached its use limit, or was revoked or expired
		// since the look-up.
		g.countEnroll("refused")
		g.cfg.Logger.Warn("enroll refused", "hostname", req.Hostname, "err", err)
		writeJSONError(w, http.StatusUnauthorized, "enroll secret refused: used up, revoked or expired")
		return
	}
	if err != nil {
		g.unavailable(w, "enroll: create host", err)
		return
	}
	g.countEnroll("ok")
	g.cfg.Logger.Info("host enrolled", "host_id", id, "hostname", req.Hostname, "labels", len(req.Labels))
	writeJSON(w, http.StatusOK, enrollResponse{HostID: id, NodeKey: key})
}

func (g *Gateway) countEnroll(result string) {
	if g.cfg.Metrics != nil {
		g.cfg.Metrics.Enrollments.WithLabelValues(result).Inc()
	}
}

func (g *Gateway) unavailable(w http.ResponseWriter, op string, err error) {
	g.countEnroll("error")
	g.cfg.Logger.Error(op, "err", err)
	w.Header().Set("Retry-After", fmt.Sprint(int(g.cfg.RetryAfter.Seconds())))
	writeJSONError(w, http.StatusServiceUnavailable, "database unavailable, retry later")
}

func (g *Gateway) serveWS(w http.ResponseWriter, r *http.Request) {
	if !g.cfg.Agents.Take() {
		g.agentsFull(w)
		return
	}
	served := false
	defer func() {
		if !served {
			g.cfg.Agents.Release()
		}
	}()
	key, ok := bearer(r)
	keyHash := ""
	if ok {
		keyHash = auth.Hash(key)
	}
	if !g.cfg.Guard.Check(w, r, limits.NodeKey, keyHash) {
		return
	}
	if !ok {
		g.cfg.Guard.Result(r, false, "agent: no node key")
		writeJSONError(w, http.StatusUnauthorized, "node key required")
		return
	}
	host, err := g.nodeKeys.call(r.Context(), keyHash)
	if errors.Is(err, store.ErrNotFound) {
		g.cfg.Guard.Result(r, false, "agent: unknown node key")
		writeJSONError(w, http.StatusUnauthorized, "unknown node key")
		return
	}
	if errors.Is(err, store.ErrRetired) {
		// Not 401: an agent answered 401 enrolls again, and an admin
		// who retired a host wants it to stay away. Not counted as a
		// failed authentication either: retired machines behind one
		// address must not lock out the live ones.
		writeJSONError(w, http.StatusForbidden, "host retired by an administrator")
		return
	}
	if err != nil {
		g.cfg.Logger.Error("agent connection: look up node key", "err", err)
		w.Header().Set("Retry-After", fmt.Sprint(int(g.cfg.RetryAfter.Seconds())))
		writeJSONError(w, http.StatusServiceUnavailable, "database unavailable, retry later")
		return
	}
	g.cfg.Guard.Result(r, true, "")
	g.mu.Lock()
	closed := g.closed
	if !closed {
		g.wg.Add(1)
	}
	g.mu.Unlock()
	if closed {
		w.Header().Set("Retry-After", "5")
		writeJSONError(w, http.StatusServiceUnavailable, "server is shutting down")
		return
	}
	cork := newCorkConn(g.cfg.WriteWait)
	ws, err := g.upgrader.Upgrade(corkingWriter{ResponseWriter: w, conn: cork}, r, nil)
	if err != nil {
		g.wg.Done()
		// The upgrader has already written an HTTP error.
		g.cfg.Logger.Debug("websocket upgrade failed", "host_id", host.ID, "err", err)
		return
	}
	// The connection is served on a goroutine of its own so that this
	// handler returns: the HTTP server then lets go of what it kept for
	// the request (its connection state and write buffer, the handler's
	// grown stack), which an agent's connection would hold for its whole
	// life.
	c := newConn(g, ws, cork, host, r.RemoteAddr, offersDeflate(r.Header))
	served = true
	go c.serve() // its end gives back the place and g.wg

}

// agentsFull refuses an agent connection over Config.Agents, telling the
// agent when to come back (it spreads the wait itself) and closing the
// HTTP connection, which would otherwise stay open idle and hold a place
// under the server's connection cap.
func (g *Gateway) agentsFull(w http.ResponseWriter) {
	if g.cfg.Metrics != nil {
		g.cfg.Metrics.HTTPRefused.WithLabelValues(limits.ReasonAgentCap).Inc()
	}
	g.agentsRefused.warn(g.cfg.Logger, "agent connection refused: agents hold their whole share of the connection cap",
		"agents", g.cfg.Agents.Held(), "max_agents", g.cfg.Agents.Max())
	w.Header().Set("Retry-After", fmt.Sprint(int(g.cfg.RetryAfter.Seconds())))
	w.Header().Set("Connection", "close")
	writeJSONError(w, http.StatusServiceUnavailable, "server holds as many agents as it takes, retry later")
}

// readBufferSize is the size of each connection's read buffer.
const readBufferSize = 1024

// writeBufferSize is the size of the buffers frames are written from; a
// larger message is written in several frames.
const writeBufferSize = 4096

// writeBuffers is shared by every agent connection (Upgrader.WriteBufferPool).
var writeBuffers = &sync.Pool{}

// attach registers c as host's live connection, replacing (and closing)
// an older one: an agent that reconnects before the server noticed its old
// connection died, or a second agent copying the first one's node key.
func (g *Gateway) attach(c *conn) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		c.fail(errorFrame(wire.CodeShutdown, "server is shutting down", 5*time.Second).as(metrics.DisconnectShutdown))
		return
	}
	old := g.conns[c.host.ID]
	g.conns[c.host.ID] = c
	n := len(g.conns)
	g.mu.Unlock()
	if old != nil {
		g.cfg.Logger.Warn("host connected twice; closing the older connection", "host_id", c.host.ID,
			"old_remote", old.remote, "new_remote", c.remote)
		old.fail(errorFrame(wire.CodeBadMessage, "replaced by a newer connection for this node key", 0).as(metrics.DisconnectReplaced))
	}
	if g.cfg.Metrics != nil {
		g.cfg.Metrics.AgentsConnected.Set(float64(n))
	}
}

// detach removes c if it is still host's live connection, and then
// queues the host's disconnection: a connection replaced by a newer one
// does not mark its host disconnected. The disconnection is queued before
// the count drops, so whoever sees an agent gone from Connected finds its
// disconnection recorded after FlushDisconnections.
func (g *Gateway) detach(c *conn) {
	g.mu.Lock()
	if g.conns[c.host.ID] == c {
		delete(g.conns, c.host.ID)
		g.disconnects.add(c.host.ID, time.Now().UTC())
	}
	n := len(g.conns)
	g.mu.Unlock()
	if g.cfg.Metrics != nil {
		g.cfg.Metrics.AgentsConnected.Set(float64(n))
	}
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

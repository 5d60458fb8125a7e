package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
)

// ProtocolVersion is the newest protocol version this build speaks.
const ProtocolVersion = 1

// MaxMessageBytes bounds one WebSocket message after decompression. A full
// software section of a few thousand packages is a few hundred KiB, so this
// leaves room while keeping one agent from exhausting server memory.
const MaxMessageBytes = 8 << 20

// Message types. Agent to server: hello, inventory, heartbeat, results.
// Server to agent: welcome, ack, error, policy_set, check_now, labels.
const (
	TypeHello     = "hello"
	TypeWelcome   = "welcome"
	TypeInventory = "inventory"
	TypeHeartbeat = "heartbeat"
	TypeResults   = "results"
	TypeAck       = "ack"
	TypeError     = "error"
	TypePolicySet = "policy_set"
	TypeCheckNow  = "check_now"
	TypeLabels    = "labels"
)

// Envelope wraps every message. Seq is assigned by the sender of data
// messages (inventory, heartbeat) and increases by one for each message the
// agent spools; acks name the Seq they acknowledge. Hello, welcome and error
// carry Seq 0.
type Envelope struct {
	Type    string          `json:"type"`
	Seq     uint64          `json:"seq,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Hello is the agent's first message on a connection.
type Hello struct {
	// ProtocolVersions lists every version the agent speaks.
	ProtocolVersions []int  `json:"protocol_versions"`
	AgentVersion     string `json:"agent_version"`
	OS               string `json:"os"`
	Arch             string `json:"arch"`
	Hostname         string `json:"hostname"`
	// PolicyRevision is the revision of the policy set the agent holds
	// (0: none); the server sends policy_set only when its own differs.
	PolicyRevision uint64 `json:"policy_revision,omitempty"`
	// ExprAnswers says the agent answers expr leaves from the server's
	// expr_answers (it links no expression engine); older agents, which
	// evaluate them and would close on an unknown message, leave it out.
	ExprAnswers bool `json:"expr_answers,omitempty"`
	// Labels says the agent takes labels messages (it picks tailorings
	// by its host's labels); older agents, which would close on an
	// unknown message, leave it out and are sent none.
	Labels bool `json:"labels,omitempty"`
}

// Welcome answers Hello: the version chosen and the schedule the server
// wants this agent to keep.
type Welcome struct {
	ProtocolVersion   int       `json:"protocol_version"`
	HostID            int64     `json:"host_id"`
	ServerTime        time.Time `json:"server_time"`
	InventoryInterval Duration  `json:"inventory_interval"`
	HeartbeatInterval Duration  `json:"heartbeat_interval"`
	// LastSeq is the highest sequence number the server has applied for
	// this host, so an agent that lost its state resumes above it.
	LastSeq uint64 `json:"last_seq"`
	// Labels are the host's labels as the server holds them, for
	// picking the policy set's tailorings; servers older than it send
	// none, and a host without labels has none.
	Labels map[string]string `json:"labels,omitempty"`
}

// Labels tells a connected agent its host's labels changed; they replace
// the ones of the welcome (an empty map: the host has none left).
type Labels struct {
	Labels map[string]string `json:"labels"`
}

// Inventory carries the sections that changed since the last acknowledged
// inventory, in full, and a digest over every section's hash. Unchanged
// sections travel only inside the digest.
type Inventory struct {
	CollectedAt time.Time         `json:"collected_at"`
	Digest      string            `json:"digest"`
	Sections    []Section         `json:"sections,omitempty"`
	Removed     []string          `json:"removed,omitempty"`
	Errors      map[string]string `json:"errors,omitempty"`
}

// Section is one inventory section in full.
type Section struct {
	Name string          `json:"name"`
	Hash string          `json:"hash"`
	Data json.RawMessage `json:"data"`
}

// Heartbeat says the agent is alive between inventories. Health is
// optional: agents older than it send none, and the server accepts that.
//
// PolicyRefusal is set while the agent refuses the newest policy set the
// server sent it (and keeps evaluating the one it held before); a
// heartbeat without it says the agent refuses none. Agents older than it
// never send it.
type Heartbeat struct {
	Time          time.Time      `json:"time"`
	Health        *Health        `json:"health,omitempty"`
	PolicyRefusal *PolicyRefusal `json:"policy_refusal,omitempty"`
}

// PolicyRefusal says which policy set revision the agent refused, why
// (Code, one of the policysign codes, and a sentence) and when.
type PolicyRefusal struct {
	Revision uint64    `json:"revision"`
	Code     string    `json:"code"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// MaxRefusalReason bounds PolicyRefusal.Reason in bytes.
const MaxRefusalReason = 512

// Validate checks a refusal: a revision, a short lower-case code, a
// reason of valid UTF-8 within MaxRefusalReason, and a time.
func (r *PolicyRefusal) Validate() error {
	if r.Revision == 0 || r.Revision > MaxSeq {
		return fmt.Errorf("%w: policy_refusal revision %d", ErrMalformed, r.Revision)
	}
	if len(r.Code) == 0 || len(r.Code) > 32 || strings.IndexFunc(r.Code, func(c rune) bool { return (c < 'a' || c > 'z') && c != '_' }) >= 0 {
		return fmt.Errorf("%w: policy_refusal code %q", ErrMalformed, r.Code)
	}
	if len(r.Reason) > MaxRefusalReason || !utf8.ValidString(r.Reason) || strings.ContainsRune(r.Reason, 0) {
		return fmt.Errorf("%w: policy_refusal reason is not valid UTF-8 of at most %d bytes", ErrMalformed, MaxRefusalReason)
	}
	if r.At.IsZero() {
		return fmt.Errorf("%w: policy_refusal without a time", ErrMalformed)
	}
	return nil
}

// Health is what an agent says about itself in a heartbeat. Every field but
// Spooled is an increment: what happened since the previous heartbeat the
// agent created, so the server adds each applied heartbeat's values to
// fleet-wide counters and a heartbeat applied once is counted once. Zero
// values are left off the wire, so an idle agent's health is "{}".
type Health struct {
	// InventoryScanSeconds and PolicyScanSeconds are the durations of the
	// inventory collections and policy evaluations that completed since
	// the previous heartbeat, oldest first. At most MaxHealthScans each:
	// an agent that completed more keeps the most recent ones.
	InventoryScanSeconds []float64 `json:"inventory_scan_seconds,omitempty"`
	PolicyScanSeconds    []float64 `json:"policy_scan_seconds,omitempty"`
	// CheckErrors counts policy checks that ended with status error in
	// the evaluations above.
	CheckErrors uint64 `json:"check_errors,omitempty"`
	// Dropped counts data messages the agent gave up on without an ack:
	// sent on a connection that ended before the ack came, or not sendable
	// at all (an inventory over MaxMessageBytes). Such a message is never
	// sent again as it was; an inventory's or results' content is
	// recomputed and sent in a later message, a heartbeat is simply lost.
	Dropped uint64 `json:"dropped,omitempty"`
	// Reconnects counts connections the agent had welcomed after having
	// had one welcomed before, since it started.
	Reconnects uint64 `json:"reconnects,omitempty"`
	// Spooled is a level, not an increment: the data messages the agent
	// holds that the server has not acknowledged yet when the heartbeat is
	// created (the heartbeat itself not included).
	Spooled uint64 `json:"spooled,omitempty"`
}

// Bounds of a valid Health. They are far above what a working agent
// reports between two heartbeats; a value past them is a bug or a forgery,
// and the heartbeat carrying it is refused as malformed.
const (
	// MaxHealthScans caps each list of scan durations.
	MaxHealthScans = 32
	// MaxScanSeconds is the longest scan a heartbeat may report: a day.
	MaxScanSeconds = 24 * 60 * 60
	// MaxHealthCount caps each count (increments and Spooled).
	MaxHealthCount = 1 << 20
)

// Validate checks a health report against the bounds above: at most
// MaxHealthScans durations per list, each a finite number of seconds in
// [0, MaxScanSeconds], and every count at most MaxHealthCount. JSON cannot
// carry NaN or infinities and a negative count does not decode, so those
// are refused earlier, by DecodePayload; Validate checks them anyway for
// values built in Go.
func (h *Health) Validate() error {
	for _, l := range []struct {
		name string
		vals []float64
	}{{"inventory_scan_seconds", h.InventoryScanSeconds}, {"policy_scan_seconds", h.PolicyScanSeconds}} {
		if len(l.vals) > MaxHealthScans {
			return fmt.Errorf("%w: health %s has %d durations, at most %d allowed", ErrMalformed, l.name, len(l.vals), MaxHealthScans)
		}
		for _, v := range l.vals {
			if math.IsNaN(v) || v < 0 || v > MaxScanSeconds {
				return fmt.Errorf("%w: health %s holds %v, want seconds in [0, %d]", ErrMalformed, l.name, v, MaxScanSeconds)
			}
		}
	}
	for _, c := range []struct {
		name string
		v    uint64
	}{{"check_errors", h.CheckErrors}, {"dropped", h.Dropped}, {"reconnects", h.Reconnects}, {"spooled", h.Spooled}} {
		if c.v > MaxHealthCount {
			return fmt.Errorf("%w: health %s is %d, at most %d allowed", ErrMalformed, c.name, c.v, MaxHealthCount)
		}
	}
	return nil
}

// PolicySet is the whole set of policies the agent must evaluate, with
// the server's revision. It replaces the agent's previous set.
//
// Tailorings are the server-side tailorings, ordered by name: each
// applies to the hosts its selector selects, a later one overriding an
// earlier one per parameter (see policy.EffectiveValues).
//
// Signature, when the admin signed the set, covers exactly Policies and
// Tailorings (see policysign and "Signed policy sets" in
// docs/policies.md); agents that pin a policy key refuse a set without a
// valid one. Agents that pin none ignore it.
type PolicySet struct {
	Revision   uint64                  `json:"revision"`
	Policies   []policy.Policy         `json:"policies"`
	Tailorings []policy.LabelTailoring `json:"tailorings,omitempty"`
	Signature  *policysign.Signature   `json:"signature,omitempty"`
}

// Results carries policy results that changed since the last acknowledged
// results message, evaluated against policy set Revision. Removed names
// policies the agent no longer evaluates.
type Results struct {
	Revision uint64          `json:"revision"`
	Results  []policy.Result `json:"results,omitempty"`
	Removed  []string        `json:"removed,omitempty"`
	// EvaluatedAt is when the agent finished the evaluation this message
	// reports: every policy of the set was checked then, changed or not.
	// An evaluation that changed nothing is reported by a message with
	// only Revision and EvaluatedAt. Absent from agents that predate it.
	EvaluatedAt time.Time `json:"evaluated_at,omitzero"`
}

// CheckNow asks the agent to evaluate its policies at once.
type CheckNow struct{}

// Ack acknowledges one data message after the server committed it.
// Resync asks the agent to send every section in full: the digest did not
// match what the server holds.
type Ack struct {
	Resync bool `json:"resync,omitempty"`
}

// Error tells the agent why the server is closing the connection and,
// with RetryAfter, how long to wait before reconnecting.
type Error struct {
	Code       string   `json:"code"`
	Message    string   `json:"message"`
	RetryAfter Duration `json:"retry_after,omitempty"`
}

// Error codes.
const (
	CodeBadMessage  = "bad_message"
	CodeUnsupported = "unsupported_version"
	CodeUnavailable = "unavailable"
	CodeShutdown    = "shutdown"
	// CodeRetired closes the connection of a host an admin retired or
	// deleted; its node key is refused from then on.
	CodeRetired = "retired"
)

// Duration is a time.Duration that travels as a Go duration string ("1h0m0s").
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Encode builds an envelope around payload.
//
// HTML characters are not escaped: json.Marshal would rewrite <, > and &
// inside a section's canonical data (a json.RawMessage) as \u003c...,
// and the server, which checks each section's hash over the bytes as
// received, would refuse every inventory carrying one of them.
func Encode(typ string, seq uint64, payload any) ([]byte, error) {
	env := Envelope{Type: typ, Seq: seq}
	if payload != nil {
		raw, err := marshalRaw(payload)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", typ, err)
		}
		env.Payload = raw
	}
	if b, ok := appendEnvelope(make([]byte, 0, len(env.Payload)+48), typ, seq, env.Payload); ok {
		return b, nil
	}
	return marshalRaw(env)
}

// marshalRaw is json.Marshal without HTML escaping.
func marshalRaw(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ErrMalformed marks a message that cannot be decoded or breaks the rules.
var ErrMalformed = errors.New("malformed message")

// MaxSeq is the largest sequence number; stores keep it in a signed
// 64-bit column.
const MaxSeq = math.MaxInt64

// Decode parses an envelope and checks its type is known.
func Decode(b []byte) (Envelope, error) {
	env, ok := decodeEnvelope(b)
	if !ok {
		env = Envelope{}
		if err := json.Unmarshal(b, &env); err != nil {
			return env, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	if env.Seq > MaxSeq {
		return env, fmt.Errorf("%w: seq %d above %d", ErrMalformed, env.Seq, uint64(MaxSeq))
	}
	switch env.Type {
	case TypeHello, TypeWelcome, TypeInventory, TypeHeartbeat, TypeResults, TypeAck, TypeError, TypePolicySet, TypeCheckNow, TypeLabels, TypeExprAnswers:
	case "":
		return env, fmt.Errorf("%w: missing type", ErrMalformed)
	default:
		return env, fmt.Errorf("%w: unknown type %q", ErrMalformed, env.Type)
	}
	return env, nil
}

// DecodePayload unmarshals env's payload into v, rejecting unknown fields
// only where strictness matters to the caller (it does not here: newer
// agents may add fields).
func DecodePayload(env Envelope, v any) error {
	if len(env.Payload) == 0 {
		return fmt.Errorf("%w: %s without payload", ErrMalformed, env.Type)
	}
	if err := json.Unmarshal(env.Payload, v); err != nil {
		return fmt.Errorf("%w: %s payload: %v", ErrMalformed, env.Type, err)
	}
	return nil
}

// Validate checks an inventory payload: known section names, each section
// once, a hash that matches its data as sent, and a well-formed digest.
func (inv *Inventory) Validate() error {
	if len(inv.Digest) != 64 {
		return fmt.Errorf("%w: inventory digest must be 64 hex characters", ErrMalformed)
	}
	seen := make(map[string]bool, len(inv.Sections))
	for _, s := range inv.Sections {
		if !inventory.KnownSection(s.Name) {
			return fmt.Errorf("%w: unknown section %q", ErrMalformed, s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("%w: section %q twice", ErrMalformed, s.Name)
		}
		seen[s.Name] = true
		// The agent sends each section in canonical form, so the hash is
		// checked over the bytes as received, without re-encoding.
		if !json.Valid(s.Data) {
			return fmt.Errorf("%w: section %q is not valid JSON", ErrMalformed, s.Name)
		}
		// encoding/json tolerates invalid UTF-8 inside strings; databases
		// do not, and one agent's bad bytes must not fail a shared batch.
		if !utf8.Valid(s.Data) {
			return fmt.Errorf("%w: section %q is not valid UTF-8", ErrMalformed, s.Name)
		}
		if got := inventory.Hash(s.Data); got != s.Hash {
			return fmt.Errorf("%w: section %q hash %s does not match its data (%s)", ErrMalformed, s.Name, s.Hash, got)
		}
	}
	for _, name := range inv.Removed {
		if !inventory.KnownSection(name) {
			return fmt.Errorf("%w: unknown removed section %q", ErrMalformed, name)
		}
		if seen[name] {
			return fmt.Errorf("%w: section %q both sent and removed", ErrMalformed, name)
		}
	}
	for name := range inv.Errors {
		if !inventory.KnownSection(name) {
			return fmt.Errorf("%w: error for unknown section %q", ErrMalformed, name)
		}
	}
	return nil
}

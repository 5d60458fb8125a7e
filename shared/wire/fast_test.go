package wire

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// envelopeCases are inputs for both decoders: Encode's own shape, and
// the shapes only encoding/json takes.
var envelopeCases = []string{
	`{"type":"heartbeat","seq":7,"payload":{"time":"2026-12-07T08:00:00Z"}}`,
	`{"type":"ack","seq":18446744073709551615,"payload":{}}`,
	`{"type":"ack","seq":0,"payload":{}}`,
	`{"type":"check_now"}`,
	`{"type":"hello","payload":{"protocol_versions":[1],"os":"<linux> & \"x\"}"}}`,
	`{"type":"ack","seq":1,"payload":{},"type":"error"}`,      // repeated member: the last wins
	`{"type":"ack","seq":1,"payload":{"a":1}}}`,               // trailing brace
	`{"type":"ack","seq":01,"payload":{}}`,                    // leading zero
	`{"type":"ack","seq":184467440737095516150,"payload":{}}`, // overflow
	`{"type":"ack","seq":-1,"payload":{}}`,
	`{"type":"ack","seq":1,"payload":null}`,
	`{"type":"ack","seq":1,"payload":[1]}`,
	`{"type":"ack","seq":1,"payload":{"a":}}`,
	`{"type":"ack","seq":1,"payload":{"a":"}"}`,
	`{"type":"a\u0063k","seq":2}`,
	`{"type":"Ack","seq":2}`,
	`{"type":"","seq":2}`,
	` {"type":"ack","seq":2}`,
	`{"type":"ack","seq":2} `,
	`{"seq":2,"type":"ack"}`,
	`{"type":"ack","seq":2,"payload":{"x":1},"seq":3}`,
	`{"type":"ack"`,
	`{"type":"ack}`,
	`{}`,
	`[]`,
	``,
}

// Where the fast path takes an input it must read what encoding/json
// reads; everything else it must leave to encoding/json.
func TestDecodeEnvelopeMatchesJSON(t *testing.T) {
	taken := 0
	for _, in := range envelopeCases {
		checkEnvelope(t, []byte(in))
		if _, ok := decodeEnvelope([]byte(in)); ok {
			taken++
		}
	}
	if taken < 5 {
		t.Fatalf("the fast path took %d inputs, want at least Encode's five", taken)
	}
}

func checkEnvelope(t *testing.T, in []byte) {
	t.Helper()
	fast, ok := decodeEnvelope(in)
	if !ok {
		return
	}
	var slow Envelope
	if err := json.Unmarshal(in, &slow); err != nil {
		t.Fatalf("%q: the fast path took what encoding/json refuses (%v)", in, err)
	}
	if fast.Type != slow.Type || fast.Seq != slow.Seq || !bytes.Equal(fast.Payload, slow.Payload) {
		t.Fatalf("%q: fast %+v, encoding/json %+v", in, fast, slow)
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, in := range envelopeCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkEnvelope(t, in) })
}

// Encode's output is what json.Marshal makes of the envelope, and the
// fast decoder reads it back.
func TestEncodeMatchesJSON(t *testing.T) {
	at := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		typ     string
		seq     uint64
		payload any
	}{
		{TypeHeartbeat, 42, Heartbeat{Time: at, Health: &Health{}}},
		{TypeAck, 0, Ack{Resync: true}},
		{TypeCheckNow, 0, nil},
		{TypeHello, 1, Hello{OS: "<linux> & co", ProtocolVersions: []int{1}}},
		{TypeHeartbeat, 3, (*Heartbeat)(nil)},
		{"Not-Plain", 3, Ack{}},
	} {
		got, err := Encode(c.typ, c.seq, c.payload)
		if err != nil {
			t.Fatal(err)
		}
		env := Envelope{Type: c.typ, Seq: c.seq}
		if c.payload != nil {
			if env.Payload, err = marshalRaw(c.payload); err != nil {
				t.Fatal(err)
			}
		}
		want, err := marshalRaw(env)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Encode(%s) = %s, want %s", c.typ, got, want)
		}
		// A null payload is left to encoding/json, as is a type that
		// needs escaping; the rest the fast path reads back.
		back, ok := decodeEnvelope(got)
		if wantFast := plainType(c.typ) && string(env.Payload) != "null"; ok != wantFast {
			t.Errorf("decoding %s: fast path %v, want %v", got, ok, wantFast)
		} else if ok && (back.Type != c.typ || back.Seq != c.seq || !bytes.Equal(back.Payload, env.Payload)) {
			t.Errorf("decoding %s: %+v", got, back)
		}
	}
}

// heartbeatCases are heartbeat payloads for both decoders: Marshal's own
// shapes first, then what only encoding/json takes or refuses.
var heartbeatCases = []string{
	`{"time":"2026-12-07T08:00:00Z"}`,
	`{"time":"2026-12-07T08:00:00.123456789+01:00","health":{}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"inventory_scan_seconds":[0.5,1e-3,2E+2],"policy_scan_seconds":[-0,3],"check_errors":1,"dropped":2,"reconnects":3,"spooled":18446744073709551615}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"spooled":4}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"dropped":0,"spooled":4}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"spooled":4,"dropped":1}}`, // order
	`{"time":"2026-12-07T08:00:00Z","health":{"spooled":4,"spooled":5}}`, // repeated
	`{"time":"2026-12-07T08:00:00Z","health":{"spooled":18446744073709551616}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"spooled":-1}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"spooled":1.0}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"spooled":01}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"inventory_scan_seconds":[]}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"inventory_scan_seconds":[1,]}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"inventory_scan_seconds":[1e999]}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"inventory_scan_seconds":[.5]}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"inventory_scan_seconds":[NaN]}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"inventory_scan_seconds":null}}`,
	`{"time":"2026-12-07T08:00:00Z","health":null}`,
	`{"time":"2026-12-07T08:00:00Z","policy_refusal":{"revision":3,"code":"bad_signature","reason":"x","at":"2026-12-07T08:00:00Z"}}`,
	`{"time":"2026-12-07T08:00:00Z","Health":{"spooled":4}}`,
	`{"time":"2026-12-07T08:00:00Z","health":{"spooled":4}} `,
	`{"time":"2026-12-07T08:00:00Z","health":{"spooled":4}}}`,
	`{"time":"2026-12-07 08:00:00Z"}`,
	`{"time":"2026-12-07T08:00:00\u005a"}`,
	`{"time":"2026-13-07T08:00:00Z"}`,
	`{"time":"2026-12-07T08:00:00Z","time":"2026-12-08T08:00:00Z"}`,
	`{"time":1}`,
	`{ "time":"2026-12-07T08:00:00Z"}`,
	`{"time":"2026-12-07T08:00:00Z"`,
	`{}`,
	``,
}

// Where the heartbeat fast path takes a payload it must read what
// encoding/json reads; everything else it must leave to encoding/json.
func TestDecodeHeartbeatMatchesJSON(t *testing.T) {
	taken := 0
	for _, in := range heartbeatCases {
		checkHeartbeat(t, []byte(in))
		if _, ok := decodeHeartbeat([]byte(in)); ok {
			taken++
		}
	}
	if taken != 5 {
		t.Fatalf("the fast path took %d payloads, want Marshal's five", taken)
	}
	// What Marshal makes of a heartbeat, health or not, takes the fast path.
	for _, hb := range []Heartbeat{
		{Time: time.Date(2026, 12, 7, 8, 0, 0, 5, time.UTC)},
		{Time: time.Now(), Health: &Health{InventoryScanSeconds: []float64{0.25, 1.0 / 3}, Dropped: 7, Spooled: 9}},
		{Time: time.Now(), Health: &Health{PolicyScanSeconds: []float64{12345.678}, CheckErrors: 2, Reconnects: 1}},
	} {
		b, err := json.Marshal(hb)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := decodeHeartbeat(b); !ok {
			t.Errorf("%s: not taken by the fast path", b)
		}
		checkHeartbeat(t, b)
	}
	// DecodeHeartbeat refuses what DecodePayload refuses.
	for _, in := range []string{`{"time":1}`, ``, `{"time":"2026-12-07T08:00:00Z","health":{"spooled":-1}}`} {
		if _, err := DecodeHeartbeat(Envelope{Type: TypeHeartbeat, Payload: json.RawMessage(in)}); err == nil {
			t.Errorf("%q: DecodeHeartbeat took it", in)
		}
	}
}

func checkHeartbeat(t *testing.T, in []byte) {
	t.Helper()
	fast, ok := decodeHeartbeat(in)
	if !ok {
		return
	}
	var slow Heartbeat
	if err := json.Unmarshal(in, &slow); err != nil {
		t.Fatalf("%q: the fast path took what encoding/json refuses (%v)", in, err)
	}
	fj, _ := json.Marshal(fast)
	sj, _ := json.Marshal(slow)
	if !fast.Time.Equal(slow.Time) || !bytes.Equal(fj, sj) {
		t.Fatalf("%q: fast %s, encoding/json %s", in, fj, sj)
	}
	got, err := DecodeHeartbeat(Envelope{Type: TypeHeartbeat, Payload: in})
	if err != nil || !bytes.Equal(mustMarshal(t, got), sj) {
		t.Fatalf("%q: DecodeHeartbeat %+v, %v", in, got, err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeHeartbeat(f *testing.F) {
	for _, in := range heartbeatCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkHeartbeat(t, in) })
}

// BenchmarkDecodeHeartbeat compares the fast path with encoding/json on
// a heartbeat with a health block, as agents send them.
func BenchmarkDecodeHeartbeat(b *testing.B) {
	payload, err := json.Marshal(Heartbeat{Time: time.Now(), Health: &Health{PolicyScanSeconds: []float64{0.012}, Spooled: 1}})
	if err != nil {
		b.Fatal(err)
	}
	env := Envelope{Type: TypeHeartbeat, Seq: 9, Payload: payload}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeHeartbeat(env); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		for b.Loop() {
			var hb Heartbeat
			if err := DecodePayload(env, &hb); err != nil {
				b.Fatal(err)
			}
		}
	})
}

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

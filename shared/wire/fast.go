package wire

import (
	"encoding/json"
	"strconv"
)

// Every message an agent or the server sends is an envelope that Encode
// made: {"type":"…","seq":N,"payload":{…}} with the members in that order
// and nothing around them. Under load such envelopes are most of what
// both sides read and write, and encoding/json spends on each one a
// validity scan of the whole message, a second walk over the payload to
// find where it ends and a copy of it, and reflection for three fields.
// appendEnvelope and decodeEnvelope handle exactly Encode's shape; any
// other input (members reordered or repeated, whitespace, escapes in the
// type, a payload that is not an object) is left to encoding/json, so
// what a message means never depends on which path read it.

// appendEnvelope appends the envelope of typ, seq and the encoded payload
// raw (nil: none), byte for byte what json.Marshal makes of Envelope.
// It reports false, appending nothing, for a type that would need JSON
// escaping.
func appendEnvelope(b []byte, typ string, seq uint64, raw []byte) ([]byte, bool) {
	if !plainType(typ) {
		return b, false
	}
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, '"')
	if seq != 0 {
		b = append(b, `,"seq":`...)
		b = strconv.AppendUint(b, seq, 10)
	}
	if len(raw) > 0 {
		b = append(b, `,"payload":`...)
		b = append(b, raw...)
	}
	return append(b, '}'), true
}

// plainType reports whether typ is a non-empty run of lower-case letters
// and underscores, as every message type is.
func plainType(typ string) bool {
	if typ == "" {
		return false
	}
	for i := 0; i < len(typ); i++ {
		if c := typ[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}

// decodeEnvelope parses b when it has exactly Encode's shape, with an
// object for payload; ok is false for anything else, and the caller then
// decodes b with encoding/json. The payload is copied out of b. It does
// not check the type or the sequence number against the protocol's
// rules: Decode does, whichever path parsed the envelope.
func decodeEnvelope(b []byte) (env Envelope, ok bool) {
	const typePrefix = `{"type":"`
	if len(b) < len(typePrefix)+2 || string(b[:len(typePrefix)]) != typePrefix || b[len(b)-1] != '}' {
		return env, false
	}
	i := len(typePrefix)
	end := i
	for end < len(b) && ((b[end] >= 'a' && b[end] <= 'z') || b[end] == '_') {
		end++
	}
	if end == i || end >= len(b) || b[end] != '"' {
		return env, false
	}
	env.Type = string(b[i:end])
	i = end + 1
	const seqPrefix = `,"seq":`
	if len(b)-i > len(seqPrefix) && string(b[i:i+len(seqPrefix)]) == seqPrefix {
		i += len(seqPrefix)
		end = i
		for end < len(b) && b[end] >= '0' && b[end] <= '9' {
			end++
		}
		// JSON numbers have no leading zeros; 20 digits hold any uint64.
		if end == i || end-i > 20 || (b[i] == '0' && end-i > 1) {
			return env, false
		}
		seq, err := strconv.ParseUint(string(b[i:end]), 10, 64)
		if err != nil {
			return env, false
		}
		env.Seq = seq
		i = end
	}
	if i == len(b)-1 {
		return env, true // no payload
	}
	const payloadPrefix = `,"payload":{`
	if len(b)-i <= len(payloadPrefix) || string(b[i:i+len(payloadPrefix)]) != payloadPrefix {
		return env, false
	}
	// The payload runs to the closing brace of the envelope. A repeated
	// member after it would make it invalid JSON on its own ("{…},"type":…"):
	// such input goes to encoding/json, which keeps the last one.
	raw := b[i+len(payloadPrefix)-1 : len(b)-1]
	if raw[len(raw)-1] != '}' || !json.Valid(raw) {
		return env, false
	}
	env.Payload = append(json.RawMessage(nil), raw...)
	return env, true
}

// DecodeHeartbeat decodes a heartbeat's payload, as DecodePayload does.
// A heartbeat comes with nearly every message an agent sends, and most
// are json.Marshal's shape of a Heartbeat without a refusal: those are
// parsed directly (decodeHeartbeat); anything else goes to
// encoding/json, so both paths give the same Heartbeat for the same
// payload and refuse the same malformed ones.
func DecodeHeartbeat(env Envelope) (Heartbeat, error) {
	if hb, ok := decodeHeartbeat(env.Payload); ok {
		return hb, nil
	}
	var hb Heartbeat
	err := DecodePayload(env, &hb)
	return hb, err
}

// decodeHeartbeat parses b when it is {"time":"…"} or
// {"time":"…","health":{…}} with the health members in Marshal's order,
// each at most once, numbers in JSON's grammar and no whitespace,
// escapes, nulls or empty lists; ok is false for anything else.
func decodeHeartbeat(b []byte) (hb Heartbeat, ok bool) {
	p := parser{b: b}
	if !p.lit(`{"time":`) {
		return hb, false
	}
	s, ok := p.str()
	if !ok || hb.Time.UnmarshalJSON(s) != nil {
		return hb, false
	}
	if p.lit(`}`) {
		return hb, p.done()
	}
	if !p.lit(`,"health":{`) {
		return hb, false
	}
	h := &Health{}
	fields := []struct {
		key  string
		list *[]float64
		n    *uint64
	}{
		{key: `"inventory_scan_seconds":`, list: &h.InventoryScanSeconds},
		{key: `"policy_scan_seconds":`, list: &h.PolicyScanSeconds},
		{key: `"check_errors":`, n: &h.CheckErrors},
		{key: `"dropped":`, n: &h.Dropped},
		{key: `"reconnects":`, n: &h.Reconnects},
		{key: `"spooled":`, n: &h.Spooled},
	}
	first := true
	for _, f := range fields {
		key := f.key
		if !first {
			key = "," + key
		}
		if !p.lit(key) {
			continue
		}
		first = false
		if f.list != nil {
			if *f.list, ok = p.floats(); !ok {
				return hb, false
			}
		} else if *f.n, ok = p.uint(); !ok {
			return hb, false
		}
	}
	if !p.lit(`}}`) {
		return hb, false
	}
	hb.Health = h
	return hb, p.done()
}

// parser reads b from i, one expected token at a time.
type parser struct {
	b []byte
	i int
}

// lit consumes s if b continues with it.
func (p *parser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

func (p *parser) done() bool { return p.i == len(p.b) }

// str consumes a string without escapes or control characters and
// returns it with its quotes.
func (p *parser) str() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			s := p.b[p.i : j+1]
			p.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// number consumes a JSON number and returns its text.
func (p *parser) number() ([]byte, bool) {
	b, j := p.b, p.i
	digits := func() bool {
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case !digits():
		return nil, false
	}
	if j < len(b) && b[j] == '.' {
		j++
		if !digits() {
			return nil, false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if !digits() {
			return nil, false
		}
	}
	s := b[p.i:j]
	p.i = j
	return s, true
}

// uint consumes a number that is a uint64 in JSON's grammar: digits
// without a sign, fraction or exponent.
func (p *parser) uint() (uint64, bool) {
	s, ok := p.number()
	if !ok || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s), 10, 64)
	return n, err == nil
}

// floats consumes a non-empty list of numbers.
func (p *parser) floats() ([]float64, bool) {
	if !p.lit("[") {
		return nil, false
	}
	var out []float64
	for {
		s, ok := p.number()
		if !ok {
			return nil, false
		}
		f, err := strconv.ParseFloat(string(s), 64)
		if err != nil {
			return nil, false
		}
		out = append(out, f)
		if p.lit("]") {
			return out, true
		}
		if !p.lit(",") {
			return nil, false
		}
	}
}

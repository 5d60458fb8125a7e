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

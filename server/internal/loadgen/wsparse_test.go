package loadgen

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

// recordConn keeps what the client writes (pongs, close frames) instead
// of sending it.
type recordConn struct {
	net.Conn
	out bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }

// parsed is one message as the parser returned it.
type parsed struct {
	payload  string
	deflated bool
}

// parserStream is a server's side of a conversation with what each part
// should come out as: whole, fragmented with a ping inside, empty, with
// 16- and 64-bit lengths, compressed, one cut to its head, then a close.
func parserStream(t *testing.T, big bool) ([]byte, []parsed) {
	var b []byte
	var want []parsed
	add := func(frames []byte, p parsed) {
		b = append(b, frames...)
		want = append(want, p)
	}
	add(serverFrame(0x81, []byte("first"), false), parsed{payload: "first"})
	b = append(b, serverFrame(0x89, []byte("ping!"), false)...)
	add(append(append(serverFrame(0x01, []byte("sec"), false), serverFrame(0x89, []byte("p2"), false)...),
		serverFrame(0x80, []byte("ond"), false)...), parsed{payload: "second"})
	add(serverFrame(0x81, nil, false), parsed{})
	mid := string(compressible(300))
	add(serverFrame(0x81, []byte(mid), false), parsed{payload: mid})
	z := deflated(t, compressible(2000))
	add(serverFrame(0xc1, z, false), parsed{payload: string(z), deflated: true})
	if big {
		large := string(compressible(70_000))
		add(serverFrame(0x82, []byte(large), false), parsed{payload: large})
	}
	drop := "drop:" + string(compressible(1000))
	add(serverFrame(0x81, []byte(drop), false), parsed{payload: drop[:headBytes]})
	kept := "keep:" + string(compressible(200))
	add(append(serverFrame(0x01, []byte(kept[:150]), false), serverFrame(0x80, []byte(kept[150:]), false)...), parsed{payload: kept})
	b = append(b, serverFrame(0x88, binary.BigEndian.AppendUint16(nil, closeNormal), false)...)
	return b, want
}

// parseInPieces feeds stream to a fresh parser in the pieces cut says and
// returns the messages, the error that ended it and what the client wrote.
func parseInPieces(stream []byte, cut func(rest int) int) ([]parsed, error, []byte) {
	rc := &recordConn{}
	c := &wsConn{nc: rc, deflate: true, limit: 1 << 20,
		headOnly: func(head []byte) bool { return strings.HasPrefix(string(head), "drop:") }}
	c.p.c = c
	var got []parsed
	for len(stream) > 0 {
		piece := stream[:cut(len(stream))]
		stream = stream[len(piece):]
		for len(piece) > 0 {
			used, payload, deflated, done, err := c.p.feed(piece)
			if err != nil {
				return got, err, rc.out.Bytes()
			}
			if used == 0 && !done {
				return got, errors.New("feed used nothing"), rc.out.Bytes()
			}
			piece = piece[used:]
			if done {
				got = append(got, parsed{string(payload), deflated})
			}
		}
	}
	return got, nil, rc.out.Bytes()
}

// checkParsed compares a parse with what the stream holds, and the
// client's answers: a pong for each ping, then the close echoed.
func checkParsed(t *testing.T, how string, got, want []parsed, err error, wrote []byte) {
	t.Helper()
	var ce *wsCloseError
	if !errors.As(err, &ce) || ce.code != closeNormal {
		t.Fatalf("%s: ended with %v, want a close with %d", how, err, closeNormal)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", how, len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: message %d: %d bytes (deflated %v) %.20q, want %d bytes (deflated %v) %.20q", how, i,
				len(got[i].payload), got[i].deflated, got[i].payload, len(want[i].payload), want[i].deflated, want[i].payload)
		}
	}
	r := bytes.NewReader(wrote)
	for _, w := range []struct {
		first   byte
		payload string
	}{{0x8a, "ping!"}, {0x8a, "p2"}, {0x88, "\x03\xe8"}} {
		if first, p := readClientFrame(t, r); first != w.first || string(p) != w.payload {
			t.Fatalf("%s: client wrote %#x %q, want %#x %q", how, first, p, w.first, w.payload)
		}
	}
	if r.Len() != 0 {
		t.Fatalf("%s: %d more bytes written", how, r.Len())
	}
}

// However the reads split a stream, every message comes out the same:
// whole, at each cut in two, a byte at a time, and in random pieces.
func TestParserAnySplit(t *testing.T) {
	small, wantSmall := parserStream(t, false)
	got, err, wrote := parseInPieces(small, func(rest int) int { return rest })
	checkParsed(t, "whole", got, wantSmall, err, wrote)
	for at := 1; at < len(small); at++ {
		first := true
		got, err, wrote := parseInPieces(small, func(rest int) int {
			if first {
				first = false
				return at
			}
			return rest
		})
		checkParsed(t, fmt.Sprintf("cut at %d", at), got, wantSmall, err, wrote)
	}
	big, wantBig := parserStream(t, true)
	got, err, wrote = parseInPieces(big, func(int) int { return 1 })
	checkParsed(t, "a byte at a time", got, wantBig, err, wrote)
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 20 {
		got, err, wrote := parseInPieces(big, func(rest int) int { return min(rest, 1+rng.IntN(9000)) })
		checkParsed(t, fmt.Sprintf("random pieces, run %d", run), got, wantBig, err, wrote)
	}
}

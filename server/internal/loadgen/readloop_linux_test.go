package loadgen

import (
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"
)

// Real sockets read by the loops: bytes the upgrade's reader already
// held come first, large messages span reads, pings are answered, and
// every way a connection ends reaches the agent once: the server's close
// frame, a dropped connection, the agent's own close, a forbidden frame.
func TestReadLoopReadsConnections(t *testing.T) {
	loops, err := newReadLoops()
	if err != nil {
		t.Fatal(err)
	}
	url, conns := rawServer(t, func(r *http.Request) []byte {
		return append([]byte(switching(r, "")), serverFrame(0x81, []byte("held"), false)...)
	})
	large := string(compressible(300_000))
	for _, end := range []string{"close frame", "dropped", "agent closes", "masked frame"} {
		t.Run(end, func(t *testing.T) {
			c := dialTest(t, testDialer(false), url)
			nc := <-conns
			nc.SetReadDeadline(time.Now().Add(20 * time.Second))
			rec := newRecorder()
			loops.read(c, rec)
			if c.br != nil {
				t.Error("a plain TCP connection kept its buffered reader")
			}
			rec.expect(t, "held")
			// A header cut between two writes, then a message that takes
			// several reads.
			frame := serverFrame(0x81, []byte("after"), false)
			nc.Write(frame[:1])
			nc.Write(frame[1:])
			rec.expect(t, "after")
			go nc.Write(serverFrame(0x82, []byte(large), false))
			rec.expect(t, large)
			nc.Write(serverFrame(0x89, []byte("are you there"), false))
			if first, p := readClientFrame(t, nc); first != 0x8a || string(p) != "are you there" {
				t.Fatalf("answer to a ping: %#x %q", first, p)
			}
			switch end {
			case "close frame":
				nc.Write(serverFrame(0x88, binary.BigEndian.AppendUint16(nil, 4001), false))
				if err := rec.end(t); reason(err) != "closed by server (4001)" {
					t.Errorf("ended with %v", err)
				}
				if first, p := readClientFrame(t, nc); first != 0x88 || binary.BigEndian.Uint16(p) != 4001 {
					t.Errorf("close echo: %#x %x", first, p)
				}
			case "dropped":
				nc.Close()
				if err := rec.end(t); reason(err) != "closed by server (1006)" {
					t.Errorf("ended with %v", err)
				}
			case "agent closes":
				c.Close()
				if err := rec.end(t); !errors.Is(err, net.ErrClosed) {
					t.Errorf("ended with %v", err)
				}
			case "masked frame":
				nc.Write(serverFrame(0x81, []byte("hidden"), true))
				if err := rec.end(t); !errors.Is(err, errProtocol) {
					t.Errorf("ended with %v", err)
				}
				if first, p := readClientFrame(t, nc); first != 0x88 || binary.BigEndian.Uint16(p) != closeProtocolError {
					t.Errorf("close frame: %#x %x", first, p)
				}
			}
			// Nothing more is read, and a close after the end is harmless.
			c.Close()
			select {
			case err := <-rec.ended:
				t.Errorf("reading ended twice, again with %v", err)
			case m := <-rec.msgs:
				t.Errorf("message %.20q after the end", m)
			default:
			}
		})
	}
	if n := loops.ls.Len(); n != 0 {
		t.Errorf("the loops still hold %d connections", n)
	}
	loops.stop()
}

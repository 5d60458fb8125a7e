package gateway

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/wsframe"
	"github.com/steward-project/steward/shared/wire"
)

// clientFrame is what msgParser.feed completes: a whole message (op is OpText
// or OpBinary, data its bytes, decompressed) or a control frame.
type clientFrame struct {
	op   byte
	data []byte // valid until the next feed
}

// msgParser turns the bytes an agent sends into messages, however the
// reads split them, for the connections a read loop serves (read.go).
// Agents' frames are masked, as RFC 6455 requires of a client; a message
// is bounded by wire.MaxMessageBytes on the wire and again once inflated.
// Only one goroutine feeds a parser at a time.
type msgParser struct {
	deflate bool // permessage-deflate was negotiated

	// The frame being read: its header bytes until the header is whole,
	// then the header, how much of its payload is still to come and how
	// much came (pos, for the mask).
	hdr     wsframe.HeaderBuf
	inFrame bool
	f       wsframe.Header
	left    int64
	pos     int
	ctl     [125]byte // a control frame's payload
	ctlN    int

	// The message being read; op is its first frame's.
	started, deflated bool
	op                byte
	total             int64
	msg               *[]byte // pooled; nil between messages
	// last is the buffer of the message feed returned last, pooled again
	// at the next feed.
	last *[]byte
}

// offersDeflate reports whether an upgrade request offers
// permessage-deflate, which the server's upgrader then accepts (without
// context takeover, the only mode it has).
func offersDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for ext := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(ext, ";")
			if strings.EqualFold(strings.TrimSpace(name), "permessage-deflate") {
				return true
			}
		}
	}
	return false
}

// msgBuffers hold messages that arrive in pieces, and inflated ones.
var msgBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 1024)
	return &b
}}

// keepMsgBuffer is the largest buffer pooled again: an inventory's
// buffer is left to the collector.
const keepMsgBuffer = 64 << 10

func putMsgBuffer(b *[]byte) {
	if cap(*b) > keepMsgBuffer {
		return
	}
	*b = (*b)[:0]
	msgBuffers.Put(b)
}

// errUnmasked refuses a frame from an agent without a mask.
var errUnmasked = fmt.Errorf("%w: unmasked frame from a client", wsframe.ErrProtocol)

// parseClientHeader is wsframe.ParseHeader for an agent's frames, which
// must be masked.
func parseClientHeader(b []byte) (f wsframe.Header, size int, ok bool, err error) {
	f, size, ok, err = wsframe.ParseHeader(b)
	if ok && !f.Masked {
		return f, size, false, errUnmasked
	}
	return f, size, ok, err
}

// feed reads b up to the end of the next frame it completes (a message
// or a control frame), or all of it, and returns how many bytes it used.
// It unmasks b in place.
func (p *msgParser) feed(b []byte) (used int, got clientFrame, done bool, err error) {
	if p.last != nil {
		putMsgBuffer(p.last)
		p.last = nil
	}
	if used, got, ok, err := p.whole(b); ok || err != nil {
		return used, got, ok, err
	}
	i := 0
	for i < len(b) {
		if !p.inFrame {
			k, f, ok, err := p.hdr.Add(b[i:])
			i += k
			if err == nil && ok && !f.Masked {
				err = errUnmasked
			}
			if err != nil {
				return i, clientFrame{}, false, err
			}
			if !ok {
				continue // the rest of the header is still to come
			}
			if err := p.startFrame(f); err != nil {
				return i, clientFrame{}, false, err
			}
		} else {
			k := int(min(p.left, int64(len(b)-i)))
			p.take(b[i : i+k])
			i += k
			p.left -= int64(k)
		}
		if p.inFrame && p.left == 0 {
			got, done, err := p.endFrame()
			if err != nil || done {
				return i, got, done, err
			}
		}
	}
	return i, clientFrame{}, false, nil
}

// whole completes the frame at b's start when b holds all of it and
// nothing is half read: the common case (a heartbeat in one frame) costs
// no copy unless it is compressed.
func (p *msgParser) whole(b []byte) (used int, got clientFrame, ok bool, err error) {
	if p.inFrame || !p.hdr.Empty() || p.started {
		return 0, clientFrame{}, false, nil
	}
	f, size, ok, err := parseClientHeader(b)
	if err != nil || !ok || !f.Fin || f.Op == wsframe.OpContinuation || int64(len(b)-size) < f.N {
		return 0, clientFrame{}, false, nil // the general path says what is wrong
	}
	end := size + int(f.N)
	payload := b[size:end]
	wsframe.Mask(payload, f.Key, 0)
	switch {
	case f.Op >= wsframe.OpClose:
		return end, clientFrame{op: f.Op, data: payload}, true, nil
	case f.Op != wsframe.OpText && f.Op != wsframe.OpBinary:
		return end, clientFrame{}, false, fmt.Errorf("%w: reserved opcode %#x", wsframe.ErrProtocol, f.Op)
	case f.N > wire.MaxMessageBytes:
		return end, clientFrame{}, false, errTooLarge
	case f.RSV1:
		if !p.deflate {
			return end, clientFrame{}, false, fmt.Errorf("%w: RSV1 without permessage-deflate", wsframe.ErrProtocol)
		}
		data, err := p.inflate(payload)
		return end, clientFrame{op: f.Op, data: data}, err == nil, err
	}
	return end, clientFrame{op: f.Op, data: payload}, true, nil
}

// inflate decompresses a message into a pooled buffer, which the next
// feed gives back.
func (p *msgParser) inflate(payload []byte) ([]byte, error) {
	buf := msgBuffers.Get().(*[]byte)
	out, err := wsframe.InflateAppend((*buf)[:0], payload, wire.MaxMessageBytes)
	*buf = out
	p.last = buf
	if err == wsframe.ErrTooBig {
		return nil, errTooLarge
	}
	return out, err
}

// startFrame checks a frame's header against the message so far.
func (p *msgParser) startFrame(f wsframe.Header) error {
	switch f.Op {
	case wsframe.OpClose, wsframe.OpPing, wsframe.OpPong:
		p.ctlN = 0
	case wsframe.OpContinuation:
		if !p.started {
			return fmt.Errorf("%w: continuation frame outside a message", wsframe.ErrProtocol)
		}
		if f.RSV1 {
			return fmt.Errorf("%w: RSV1 on a continuation frame", wsframe.ErrProtocol)
		}
	case wsframe.OpText, wsframe.OpBinary:
		if p.started {
			return fmt.Errorf("%w: new message inside a fragmented one", wsframe.ErrProtocol)
		}
		if f.RSV1 && !p.deflate {
			return fmt.Errorf("%w: RSV1 without permessage-deflate", wsframe.ErrProtocol)
		}
		p.started, p.deflated, p.op = true, f.RSV1, f.Op
		p.total = 0
		p.msg = msgBuffers.Get().(*[]byte)
	default:
		return fmt.Errorf("%w: reserved opcode %#x", wsframe.ErrProtocol, f.Op)
	}
	if f.Op < wsframe.OpClose {
		if p.total+f.N > wire.MaxMessageBytes {
			return errTooLarge
		}
		p.total += f.N
		*p.msg = slices.Grow(*p.msg, int(f.N))
	}
	p.f, p.left, p.pos, p.inFrame = f, f.N, 0, true
	return nil
}

// take adds a piece of the current frame's payload, unmasked.
func (p *msgParser) take(b []byte) {
	wsframe.Mask(b, p.f.Key, p.pos)
	p.pos += len(b)
	if p.f.Op >= wsframe.OpClose {
		p.ctlN += copy(p.ctl[p.ctlN:], b)
		return
	}
	*p.msg = append(*p.msg, b...)
}

// endFrame acts on a frame whose payload is all in: a control frame is
// returned, the last frame of a message ends it.
func (p *msgParser) endFrame() (clientFrame, bool, error) {
	p.inFrame = false
	if p.f.Op >= wsframe.OpClose {
		return clientFrame{op: p.f.Op, data: p.ctl[:p.ctlN]}, true, nil
	}
	if !p.f.Fin {
		return clientFrame{}, false, nil
	}
	p.started = false
	buf := p.msg
	p.msg = nil
	if !p.deflated {
		p.last = buf
		return clientFrame{op: p.op, data: *buf}, true, nil
	}
	defer putMsgBuffer(buf)
	data, err := p.inflate(*buf)
	return clientFrame{op: p.op, data: data}, err == nil, err
}

// reset pools the parser's buffers once the connection is read no more.
func (p *msgParser) reset() {
	for _, b := range []*[]byte{p.msg, p.last} {
		if b != nil {
			putMsgBuffer(b)
		}
	}
	p.msg, p.last = nil, nil
}

// errTooLarge is a message over wire.MaxMessageBytes, on the wire or
// inflated; it wraps websocket.ErrReadLimit, as the library's limit does.
var errTooLarge = fmt.Errorf("%w: over %d bytes", websocket.ErrReadLimit, wire.MaxMessageBytes)

// closeCode reads a close frame's payload: its code, 1005 when it has
// none.
func closeCode(data []byte) (int, error) {
	switch {
	case len(data) == 0:
		return 1005, nil
	case len(data) == 1:
		return 0, fmt.Errorf("%w: close frame of one byte", wsframe.ErrProtocol)
	}
	code := int(binary.BigEndian.Uint16(data))
	if !wsframe.ValidCloseCode(code) {
		return 0, fmt.Errorf("%w: close code %d", wsframe.ErrProtocol, code)
	}
	return code, nil
}

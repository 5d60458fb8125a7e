package loadgen

import (
	"fmt"
	"slices"

	"github.com/steward-project/steward/server/internal/wsframe"
)

// frameParser turns the bytes a connection receives into messages,
// however the reads split them: the blocking reader (ReadMessage) and the
// shared read loop (readLoop) both feed it. It answers pings and close
// frames on the way. Only one goroutine feeds a parser at a time.
type frameParser struct {
	c *wsConn

	// The frame being read: its header bytes until the header is whole,
	// then the header and how much of its payload is still to come.
	hdr     wsframe.HeaderBuf
	inFrame bool
	f       wsframe.Header
	left    int64
	ctlN    int // a control frame's payload so far, in c.ctl

	// The message being read. peek: its head is still being gathered for
	// c.headOnly; drop: the rest is read off and not kept.
	started, deflated bool
	peek, drop        bool
	total             int
	msg               *[]byte // pooled; nil between messages
	// last is the buffer of the message feed returned last, pooled again
	// at the next feed.
	last *[]byte
}

// parseHeader is wsframe.ParseHeader for a server's frames, which are
// never masked.
func parseHeader(b []byte) (f wsframe.Header, size int, ok bool, err error) {
	f, size, ok, err = wsframe.ParseHeader(b)
	if ok && f.Masked {
		return f, size, false, errMasked
	}
	return f, size, ok, err
}

// errMasked refuses a masked frame, which a server never sends.
var errMasked = fmt.Errorf("%w: masked frame from the server", errProtocol)

// feed reads b up to the end of the next message, or all of it. It
// returns how many bytes it used and, when done, the message: still
// compressed when deflated, and valid until the next feed. A message
// whose frames arrived whole in one b is returned in b itself.
func (p *frameParser) feed(b []byte) (used int, payload []byte, deflated, done bool, err error) {
	if p.last != nil {
		putBuffer(p.last)
		p.last = nil
	}
	if payload, used, deflated, ok := p.whole(b); ok {
		return used, payload, deflated, true, nil
	}
	i := 0
	for i < len(b) {
		if !p.inFrame {
			k, f, ok, err := p.hdr.Add(b[i:])
			i += k
			if err == nil && ok && f.Masked {
				err = errMasked
			}
			if err != nil {
				return i, nil, false, false, err
			}
			if !ok {
				continue // the rest of the header is still to come
			}
			if err := p.startFrame(f); err != nil {
				return i, nil, false, false, err
			}
		} else {
			k := int(min(p.left, int64(len(b)-i)))
			p.take(b[i : i+k])
			i += k
			p.left -= int64(k)
		}
		if p.inFrame && p.left == 0 {
			payload, deflated, done, err := p.endFrame()
			if err != nil || done {
				return i, payload, deflated, done, err
			}
		}
	}
	return i, nil, false, false, nil
}

// whole returns the message at b's start when it is one final,
// unfragmented data frame that b holds all of and nothing is half read:
// the common case (an ack) costs no copy. Like the general path, it cuts a
// message c.headOnly refuses to its head.
func (p *frameParser) whole(b []byte) (payload []byte, used int, deflated, ok bool) {
	if p.inFrame || !p.hdr.Empty() || p.started {
		return nil, 0, false, false
	}
	f, size, ok, err := parseHeader(b)
	if err != nil || !ok || !f.Fin || (f.RSV1 && !p.c.deflate) || (f.Op != opText && f.Op != opBinary) ||
		f.N > int64(p.c.limit) || int64(len(b)-size) < f.N {
		return nil, 0, false, false
	}
	end := size + int(f.N)
	payload = b[size:end]
	if p.c.headOnly != nil && !f.RSV1 && len(payload) > headBytes && p.c.headOnly(payload[:headBytes]) {
		payload = payload[:headBytes]
	}
	return payload, end, f.RSV1, true
}

// startFrame checks a frame's header against the message so far.
func (p *frameParser) startFrame(f wsframe.Header) error {
	switch f.Op {
	case opClose, opPing, opPong:
		p.ctlN = 0
	case opContinuation:
		if !p.started {
			return fmt.Errorf("%w: continuation frame outside a message", errProtocol)
		}
		if f.RSV1 {
			return fmt.Errorf("%w: RSV1 on a continuation frame", errProtocol)
		}
	case opText, opBinary:
		if p.started {
			return fmt.Errorf("%w: new message inside a fragmented one", errProtocol)
		}
		if f.RSV1 && !p.c.deflate {
			return fmt.Errorf("%w: RSV1 without permessage-deflate", errProtocol)
		}
		p.started, p.deflated = true, f.RSV1
		p.peek, p.drop = p.c.headOnly != nil && !f.RSV1, false
		p.total = 0
		p.msg = getBuffer()
	default:
		return fmt.Errorf("%w: reserved opcode %#x", errProtocol, f.Op)
	}
	if f.Op < opClose {
		if int64(p.total)+f.N > int64(p.c.limit) {
			return errTooBig
		}
		p.total += int(f.N)
		if !p.peek && !p.drop {
			*p.msg = slices.Grow(*p.msg, int(f.N))
		}
	}
	p.f, p.left, p.inFrame = f, f.N, true
	return nil
}

// take adds a piece of the current frame's payload.
func (p *frameParser) take(b []byte) {
	if p.f.Op >= opClose {
		p.ctlN += copy(p.c.ctl[p.ctlN:], b)
		return
	}
	if p.peek {
		k := min(len(b), headBytes-len(*p.msg))
		*p.msg = append(*p.msg, b[:k]...)
		b = b[k:]
		if len(*p.msg) == headBytes {
			p.peek, p.drop = false, p.c.headOnly(*p.msg)
		}
	}
	if !p.drop {
		*p.msg = append(*p.msg, b...)
	}
}

// endFrame acts on a frame whose payload is all in: a control frame is
// answered, the last frame of a message ends it.
func (p *frameParser) endFrame() ([]byte, bool, bool, error) {
	p.inFrame = false
	if p.f.Op >= opClose {
		return nil, false, false, p.c.control(p.f, p.c.ctl[:p.ctlN])
	}
	if !p.f.Fin {
		return nil, false, false, nil
	}
	p.started = false
	p.last, p.msg = p.msg, nil
	return *p.last, p.deflated, true, nil
}

// reset pools the parser's buffers once the connection is read no more.
func (p *frameParser) reset() {
	for _, b := range []*[]byte{p.msg, p.last} {
		if b != nil {
			putBuffer(b)
		}
	}
	p.msg, p.last = nil, nil
}

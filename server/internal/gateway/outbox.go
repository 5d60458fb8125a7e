package gateway

import "sync"

// maxQueuedFrames bounds the frames the server starts itself (welcome,
// policy sets, check_now) that may wait for a connection's writer. They
// are few and far between; an agent that lets this many pile up is not
// reading.
const maxQueuedFrames = 64

// DefaultAckQueue is how many acks may wait for a connection's writer
// unless Config.AckQueue says otherwise. Acks are not sent one by one as
// agents pace them: ingest commits a whole batch (up to 512 messages by
// default) and acks every message in it at once, so a burst of hundreds
// is normal under load. An ack waits as 16 bytes, not as an encoded
// frame, so the bound is generous; only a peer that stopped reading
// while it keeps sending reaches it.
const DefaultAckQueue = 8192

// shrinkAbove is the capacity past which a drained queue lets its array
// go.
const shrinkAbove = 256

// outKind says what an outItem is.
type outKind uint8

const (
	outFrame outKind = iota // an encoded frame
	outAck                  // the ack of seq, encoded when written
	outPing                 // a WebSocket ping
	// outPong answers an agent's ping, frame its data; it replaces an
	// answer still queued, as only the latest ping needs one.
	outPong
	// outPolicySet is a policy set, prepared once for every connection
	// (broadcast.go). A newer one replaces one still queued: the agent
	// only needs the latest.
	outPolicySet
)

// outItem is one queued frame, ack or ping.
type outItem struct {
	kind   outKind
	resync bool
	// more marks an ack with more of the connection's messages still
	// waiting for their commit: a writer it starts waits
	// Config.AckDelay for their acks, to send them in one write.
	more  bool
	seq   uint64
	frame []byte
	set   *encodedSet // outPolicySet
	// slot, on a set a push queued, is the push's room for it; it is
	// given back once the set is written, replaced or dropped.
	slot *pushSlot
}

// outbox is a connection's send queue: frames, acks and pings in the order
// they were queued, drained by the writer all at once. Frames and acks are
// bounded separately, so that a burst of acks never takes the room of a
// policy set and the other way round; push reports a full queue, which
// means the peer is not reading.
//
// No goroutine waits on an idle connection's queue: the push that finds
// no writer running says so, and its caller starts one; the writer stops
// when take finds the queue empty. Both happen under the lock, so an item
// is never left behind with no writer.
type outbox struct {
	mu      sync.Mutex
	items   []outItem
	frames  int
	acks    int
	pings   int
	pongs   int
	writing bool // a writer goroutine owns the connection's writes
}

// push queues it. ok is false when its kind's bound is reached; start is
// true when no writer is running, and the caller must start one.
func (o *outbox) push(it outItem, maxAcks int) (ok, start bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch it.kind {
	case outAck:
		if o.acks >= maxAcks {
			return false, false
		}
		o.acks++
	case outPing:
		if o.pings > 0 {
			// One unanswered ping in the queue is enough.
			return true, false
		}
		o.pings++
	case outPong:
		for i := range o.items {
			if o.items[i].kind == outPong {
				o.items[i].frame = it.frame
				return true, false
			}
		}
		o.pongs++
	case outPolicySet:
		for i := range o.items {
			if o.items[i].kind == outPolicySet {
				// Queued, so a writer is running already.
				o.items[i].slot.release()
				o.items[i] = it
				return true, false
			}
		}
		if o.frames >= maxQueuedFrames {
			return false, false
		}
		o.frames++
	default:
		if o.frames >= maxQueuedFrames {
			return false, false
		}
		o.frames++
	}
	o.items = append(o.items, it)
	return true, o.claim()
}

// claim marks the writer as running and reports whether it was not; the
// caller that gets true starts it. The lock is held.
func (o *outbox) claim() bool {
	if o.writing {
		return false
	}
	o.writing = true
	return true
}

// wake reports whether the caller must start a writer (none is running),
// as push does, without queueing anything: teardown needs a writer even
// when the queue is empty.
func (o *outbox) wake() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.claim()
}

// take moves everything queued into buf (reused) and empties the queue.
// When there is nothing, the writer that called it must stop (unless
// keep is set: the teardown writer stays to the end).
func (o *outbox) take(buf []outItem, keep bool) []outItem {
	o.mu.Lock()
	defer o.mu.Unlock()
	buf = append(buf[:0], o.items...)
	clear(o.items)
	o.items = o.items[:0]
	if len(buf) == 0 {
		// An idle connection keeps no array.
		o.items = nil
		if !keep {
			o.writing = false
		}
	} else if cap(o.items) > shrinkAbove {
		o.items = nil // a past burst need not stay allocated
	}
	o.frames, o.acks, o.pings, o.pongs = 0, 0, 0, 0
	return buf
}

// takeAcks is take for a queue of at most max acks alone: it moves them
// into buf and empties the queue, or, when anything else or more is
// queued, moves nothing and returns buf empty. The caller owns the
// writer either way.
func (o *outbox) takeAcks(buf []outItem, max int) []outItem {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.frames > 0 || o.pings > 0 || o.pongs > 0 || len(o.items) == 0 || len(o.items) > max {
		return buf[:0]
	}
	buf = append(buf[:0], o.items...)
	clear(o.items)
	o.items = o.items[:0]
	if cap(o.items) > shrinkAbove {
		o.items = nil
	}
	o.acks = 0
	return buf
}

// release lets the writer go, as take does when it finds the queue
// empty, and reports true; when something was queued meanwhile it keeps
// the writer and reports false, and the caller must start one.
func (o *outbox) release() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.items) > 0 {
		return false
	}
	o.items = nil
	o.writing = false
	return true
}

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

// outItem is one queued frame, or an ack (frame nil) encoded when it is
// written.
type outItem struct {
	frame  []byte
	seq    uint64
	resync bool
}

// outbox is a connection's send queue: frames and acks in the order they
// were queued, drained by the writer all at once. Frames and acks are
// bounded separately, so that a burst of acks never takes the room of a
// policy set and the other way round; push reports a full queue, which
// means the peer is not reading.
type outbox struct {
	mu     sync.Mutex
	items  []outItem
	frames int
	acks   int
	// ready holds a token while items may be non-empty.
	ready chan struct{}
}

func newOutbox() *outbox {
	return &outbox{ready: make(chan struct{}, 1)}
}

// push queues it, or reports false when its kind's bound is reached.
func (o *outbox) push(it outItem, maxAcks int) bool {
	o.mu.Lock()
	if it.frame == nil {
		if o.acks >= maxAcks {
			o.mu.Unlock()
			return false
		}
		o.acks++
	} else {
		if o.frames >= maxQueuedFrames {
			o.mu.Unlock()
			return false
		}
		o.frames++
	}
	o.items = append(o.items, it)
	o.mu.Unlock()
	select {
	case o.ready <- struct{}{}:
	default:
	}
	return true
}

// take moves everything queued into buf (reused) and empties the queue.
func (o *outbox) take(buf []outItem) []outItem {
	o.mu.Lock()
	defer o.mu.Unlock()
	buf = append(buf[:0], o.items...)
	clear(o.items)
	o.items = o.items[:0]
	if cap(o.items) > shrinkAbove {
		o.items = nil // a past burst need not stay allocated
	}
	o.frames, o.acks = 0, 0
	return buf
}

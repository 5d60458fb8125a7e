package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/shared/wire"
)

// compressAbove is the smallest frame sent compressed. Deflating an ack
// or a heartbeat's worth of bytes costs more CPU than the bytes it saves;
// policy sets and other large frames still compress.
const compressAbove = 1024

// DefaultAckDelay is how long a writer woken by an ack waits for more
// unless Config.AckDelay says otherwise: acks of one commit, and of the
// commits right after it, then leave in one write.
const DefaultAckDelay = time.Millisecond

// writer owns c's writes until the queue is empty, then ends; the push
// that finds no writer starts the next one (outbox). Once c is torn down,
// the writer running then sends what is queued and the closing frames,
// and closes the socket. delay holds a writer started by an ack for
// Config.AckDelay first.
func (c *conn) writer(delay bool) {
	if d := c.g.cfg.AckDelay; delay && d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
		}
	}
	if err := c.cork.flush(); err != nil {
		c.writeFailed(err)
	}
	var batch []outItem
	for {
		if c.ctx.Err() != nil {
			c.teardown(batch)
			return
		}
		batch = c.out.take(batch, false)
		if len(batch) == 0 {
			// The queue let this writer go. A teardown that began in
			// between may have found it still running: take it up again
			// unless a new writer did.
			if c.ctx.Err() != nil && c.out.wake() {
				continue
			}
			return
		}
		if err := c.writeBatch(batch); err != nil {
			c.writeFailed(err)
		}
		clear(batch)
		batch = batch[:0]
	}
}

// inlineAcks is how many acks writeAcksInline sends from the caller's
// goroutine; more go to a writer.
const inlineAcks = 8

// writeAcksInline is the writer for a queue that holds acks alone, run
// by the goroutine that queued the last of them and found no writer:
// ingest's commit loop, which acks a whole batch in turn. The acks go
// out in one non-blocking write from here, sparing a goroutine start
// and a scheduler wake-up per ack, which under load cost more than the
// write itself. Whatever the socket does not take at once, and anything
// queued meanwhile, is left to a writer goroutine, so a slow agent never
// holds up the acks of the others.
func (c *conn) writeAcksInline() {
	if c.cork.raw == nil {
		go c.writer(false)
		return
	}
	var items [inlineAcks]outItem
	batch := c.out.takeAcks(items[:0], inlineAcks)
	if len(batch) == 0 {
		go c.writer(false)
		return
	}
	var buf [inlineAcks * 80]byte
	frames := buf[:0]
	for _, it := range batch {
		frames = appendAckFrame(frames, it.seq, it.resync)
	}
	left, err := c.cork.tryWrite(frames)
	switch {
	case errors.Is(err, errNoInline):
		c.writeBatchAsync(batch)
		return
	case err != nil:
		c.writeFailed(err)
		go c.writer(false) // ends in teardown: fail ended c.ctx
		return
	case left:
		go c.writer(false) // sends the rest first (flush)
		return
	}
	c.g.acksInline.Add(uint64(len(batch)))
	if !c.out.release() {
		go c.writer(false)
		return
	}
	// A teardown that began meanwhile found this writer running.
	if c.ctx.Err() != nil && c.out.wake() {
		go c.writer(false)
	}
}

// writeBatchAsync hands a batch already taken from the queue to a new
// writer goroutine, which writes it before anything queued later (and
// before a teardown's closing frames).
func (c *conn) writeBatchAsync(batch []outItem) {
	taken := slices.Clone(batch)
	go func() {
		// Acks of committed messages go out even during a teardown, as
		// the teardown writer sends what is queued.
		if err := c.writeBatch(taken); err != nil {
			c.writeFailed(err)
		}
		c.writer(false)
	}()
}

// appendAckFrame appends the ack of seq as an unmasked, uncompressed
// text frame, as a server sends it.
func appendAckFrame(b []byte, seq uint64, resync bool) []byte {
	start := len(b)
	b = append(b, 0x81, 0) // FIN, text; the length follows
	b = appendAck(b, seq, resync)
	// An ack is well under 126 bytes, the most a one-byte length holds.
	b[start+1] = byte(len(b) - start - 2)
	return b
}

// writeBatch writes the queued items in order, gathered into one socket
// write (corkConn).
func (c *conn) writeBatch(batch []outItem) error {
	if len(batch) == 0 {
		return nil
	}
	deadline := time.Now().Add(c.g.cfg.WriteWait)
	c.ws.SetWriteDeadline(deadline)
	c.cork.cork()
	var scratch []byte
	for i, it := range batch {
		if i == len(batch)-1 {
			c.cork.uncork()
		}
		var err error
		switch it.kind {
		case outPing:
			err = c.ws.WriteControl(websocket.PingMessage, nil, deadline)
		case outPong:
			err = c.ws.WriteControl(websocket.PongMessage, it.frame, deadline)
		case outAck:
			scratch = appendAck(scratch[:0], it.seq, it.resync)
			err = c.writeFrame(scratch)
		case outPolicySet:
			err = c.writePolicySet(it.set)
			it.slot.release()
		default:
			err = c.writeFrame(it.frame)
		}
		if err != nil {
			c.cork.unsent()
			// What follows is not written: give back a push's room.
			for _, rest := range batch[i+1:] {
				rest.slot.release()
			}
			return err
		}
	}
	if n := c.cork.unsent(); n > 0 {
		return fmt.Errorf("%d bytes of frames left unsent", n)
	}
	return nil
}

// writeFrame writes one text frame, compressed only when it is large.
func (c *conn) writeFrame(b []byte) error {
	c.ws.EnableWriteCompression(len(b) >= compressAbove)
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// appendAck appends the ack of seq, byte for byte what wire.Encode
// makes of it, without the reflection: under load acks are most of what
// the server writes.
func appendAck(b []byte, seq uint64, resync bool) []byte {
	b = append(b, `{"type":"`+wire.TypeAck+`","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	if resync {
		return append(b, `,"payload":{"resync":true}}`...)
	}
	return append(b, `,"payload":{}}`...)
}

// teardown sends what is queued (acks of committed messages are worth
// delivering), then the closing frame and a close frame, and closes the
// socket.
func (c *conn) teardown(batch []outItem) {
	defer close(c.wdone)
	defer c.ws.Close()
	batch = c.out.take(batch, true)
	if err := c.writeBatch(batch); err != nil {
		c.writeFailed(err)
		return
	}
	if c.final.frame != nil {
		if err := c.writeFrame(c.final.frame); err != nil {
			c.writeFailed(err)
			return
		}
	}
	if c.final.closeCode != 0 {
		msg := websocket.FormatCloseMessage(c.final.closeCode, c.final.reason)
		err := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.g.cfg.WriteWait))
		if err != nil {
			c.writeFailed(err)
		}
	}
}

// writeFailed reports a failed write and ends the connection; a
// connection reports its first failure only. It is a warning with its
// reason, since the agent's acks or closing frame stop there, unless it
// says nothing new: the server closed a slow reader's socket itself, or
// the peer had already closed or dropped the connection. Those are
// logged at debug level.
func (c *conn) writeFailed(err error) {
	if !c.writeErr {
		c.writeErr = true
		args := []any{"host_id", c.host.ID, "remote", c.remote, "during_close", c.ctx.Err() != nil, "err", err}
		if c.dropped.Load() || c.peerGone.Load() || errors.Is(err, websocket.ErrCloseSent) {
			c.g.cfg.Logger.Debug("agent connection write failed after the connection ended", args...)
		} else {
			c.g.writeErrors.warn(c.g.cfg.Logger, "agent connection write failed; closing it", args...)
		}
	}
	c.fail(closing{cause: metrics.DisconnectWriteFailed})
}

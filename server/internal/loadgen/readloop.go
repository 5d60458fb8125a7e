package loadgen

// receiver is where a connection's messages go, whoever reads them: a
// goroutine of the connection's own (readEach) or a shared read loop.
type receiver interface {
	// receive acts on one message, still compressed when deflated. It
	// keeps nothing of payload, which the reader reuses.
	receive(payload []byte, deflated bool) error
	// readEnded is called once, when nothing more will be read, with why.
	readEnded(why error)
}

// readEach reads c in a goroutine of its own until the connection ends.
func readEach(c *wsConn, to receiver) {
	for {
		payload, deflated, err := c.ReadMessage()
		if err == nil {
			if err = to.receive(payload, deflated); err != nil {
				err = c.readFailed(err)
			}
		}
		if err != nil {
			to.readEnded(err)
			return
		}
	}
}

// deliver parses b, the next bytes off c's socket, and hands each message
// it completes to to.
func (c *wsConn) deliver(b []byte, to receiver) error {
	for len(b) > 0 {
		used, payload, deflated, done, err := c.p.feed(b)
		b = b[used:]
		if err != nil {
			return err
		}
		if done {
			if err := to.receive(payload, deflated); err != nil {
				return err
			}
		}
	}
	return nil
}

// drainBuffered hands to to what c's buffered reader holds past the
// upgrade and the messages read so far, and drops the reader: from then
// on a read loop feeds the parser straight from the socket.
func (c *wsConn) drainBuffered(to receiver) error {
	b, _ := c.br.Peek(c.br.Buffered())
	err := c.deliver(b, to)
	c.br = nil
	if err != nil {
		return c.readFailed(err)
	}
	return nil
}

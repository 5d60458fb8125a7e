package gateway

import (
	"net"
	"testing"
	"time"
)

// deadlineConn records the write deadlines given to the socket.
type deadlineConn struct {
	net.Conn
	set []time.Time
}

func (d *deadlineConn) SetWriteDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return nil
}

func (d *deadlineConn) Write(p []byte) (int, error) { return len(p), nil }

// A deadline later than the socket's by less than the slack is not
// applied; one further out, an earlier one and none at all are.
func TestCorkAppliesDeadlinesLazily(t *testing.T) {
	sock := &deadlineConn{}
	c := &corkConn{Conn: sock, slack: 5 * time.Second}
	t0 := time.Now().Add(10 * time.Second)
	steps := []struct {
		at      time.Time
		applied bool
	}{
		{t0, true},                       // the first
		{t0.Add(time.Second), false},     // within the slack
		{t0.Add(4 * time.Second), false}, // still within it
		{t0.Add(5 * time.Second), true},  // past it
		{t0.Add(6 * time.Second), false},
		{t0, true},          // earlier than the socket's: always
		{time.Time{}, true}, // none: always
		{t0, true},          // after none
	}
	for i, s := range steps {
		before := len(sock.set)
		if err := c.SetWriteDeadline(s.at); err != nil {
			t.Fatal(err)
		}
		if got := len(sock.set) > before; got != s.applied {
			t.Fatalf("step %d: applied %v, want %v", i, got, s.applied)
		}
		if s.applied && !sock.set[len(sock.set)-1].Equal(s.at) {
			t.Fatalf("step %d: socket got %v, want %v", i, sock.set[len(sock.set)-1], s.at)
		}
	}
	// Corked, a deadline is noted and applied by the write that sends the
	// gathered bytes, under the same rule.
	c.cork()
	if err := c.SetWriteDeadline(t0.Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	n := len(sock.set)
	c.uncork()
	if _, err := c.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if len(sock.set) != n+1 || !sock.set[n].Equal(t0.Add(20*time.Second)) {
		t.Fatalf("corked deadline: socket deadlines %v", sock.set)
	}
}

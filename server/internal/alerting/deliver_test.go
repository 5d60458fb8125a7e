package alerting

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/alerting/notify"
	"github.com/steward-project/steward/server/internal/store"
)

func TestAllSkipped(t *testing.T) {
	s := &state{senders: map[string]notify.Sender{"a": nil, "b": nil}}
	cases := []struct {
		name string
		s    *state
		skip []string
		want bool
	}{
		{"nothing full", s, nil, false},
		{"one of two full", s, []string{"a"}, false},
		{"one full, and a receiver no longer configured", s, []string{"a", "gone"}, false},
		{"every receiver full", s, []string{"b", "a"}, true},
		{"every receiver full, and one no longer configured", s, []string{"gone", "a", "b"}, true},
		// With no receiver left, rows of removed ones must still be
		// claimed, to be dead-lettered.
		{"no receivers", &state{}, []string{"gone"}, false},
	}
	for _, c := range cases {
		if got := allSkipped(c.s, c.skip); got != c.want {
			t.Errorf("%s: allSkipped(%v) = %v, want %v", c.name, c.skip, got, c.want)
		}
	}
}

// TestPerReceiverBound: however many rows are due, a receiver never has
// more than per_receiver sends in flight.
func TestPerReceiverBound(t *testing.T) {
	var mu sync.Mutex
	inFlight, most, got := 0, 0, 0
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		<-release // answers come only once the test saw the first wave
		mu.Lock()
		inFlight--
		got++
		mu.Unlock()
	}))
	defer srv.Close()
	conf := testConfig([]alertconf.Receiver{{Name: "hook", Config: notify.Config{Webhook: &notify.WebhookConfig{URL: srv.URL}}}}, failingRule)
	conf.Delivery.PerReceiver = 3
	conf.Delivery.Timeout = 30 * time.Second
	f := newFixture(t, conf)
	var opens []store.AlertOpen
	for i := range 40 {
		opens = append(opens, store.AlertOpen{Spec: store.AlertSpec{Rule: "bound", HostID: f.host, Subject: strconv.Itoa(i),
			Severity: "high", Labels: map[string]string{"rule": "bound"}}, Receivers: []string{"hook"}})
	}
	if _, err := f.st.ApplyAlertChanges(t.Context(), store.AlertChanges{Open: opens}); err != nil {
		t.Fatal(err)
	}
	f.engine.signal(f.engine.deliver)
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := inFlight
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sends in flight after 20s, want 3", n)
		}
		time.Sleep(10 * time.Millisecond) // polls a counter the server's goroutines move
	}
	close(release)
	for {
		mu.Lock()
		done := got
		mu.Unlock()
		if done >= 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 40 delivered", done)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 3 {
		t.Errorf("at most %d sends were in flight, want exactly the bound of 3", most)
	}
}

package loadgen

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/notify"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// fakeClock stands in for runner.since in receiver tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Duration
}

func (c *fakeClock) set(d time.Duration) {
	c.mu.Lock()
	c.now = d
	c.mu.Unlock()
}

func (c *fakeClock) since() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// webhookSender is the server's own webhook sender, so the receiver is
// tested against the real payload and signature.
func webhookSender(t *testing.T, url, secret string) notify.Sender {
	t.Helper()
	snd, err := notify.New("loadgen", notify.Config{Webhook: &notify.WebhookConfig{URL: url, Secret: notify.NewSecret(secret)}},
		notify.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return snd
}

// notification is a policy_failing alert's event as the engine sends it.
func notification(id int64, ev notify.Event, hostname, policyID string) notify.Message {
	now := time.Now()
	return notify.Message{NotificationID: id, Event: ev, At: now, Alert: notify.Alert{
		ID: id, DedupKey: "steward-1-0123456789abcdef", Rule: "policy-failing", HostID: 1, Hostname: hostname,
		Subject: policyID, Severity: "high", State: "firing", StartsAt: now,
		Labels: map[string]string{"rule": "policy-failing", "severity": "high", "hostname": hostname, "policy": policyID},
	}}
}

func TestReceiverMatchesTriggers(t *testing.T) {
	const secret = "s3cret"
	log := &resultsLog{}
	log.setHosts([]Identity{{Hostname: "loadgen-r-1"}, {Hostname: "loadgen-r-2"}, {Hostname: "loadgen-r-3"}})
	one := &wire.Results{Results: []policy.Result{{PolicyID: "p1", Status: policy.StatusFail}}}
	log.sent(0, one, 100*time.Millisecond)
	log.sent(1, one, 120*time.Millisecond)
	log.sent(2, one, 130*time.Millisecond) // no trigger arrives for this one
	log.sent(0, one, 900*time.Millisecond) // a later copy does not move the send time

	clock := &fakeClock{}
	rc := newAlertReceiver(secret, log, clock.since)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	good := webhookSender(t, srv.URL+"/hook", secret)
	ctx := context.Background()
	send := func(at time.Duration, m notify.Message) {
		t.Helper()
		clock.set(at)
		if err := good.Send(ctx, m); err != nil {
			t.Fatalf("notification %d: %v", m.NotificationID, err)
		}
	}
	send(350*time.Millisecond, notification(1, notify.Trigger, "loadgen-r-1", "p1")) // 250 ms
	send(360*time.Millisecond, notification(1, notify.Trigger, "loadgen-r-1", "p1")) // repeated delivery
	send(500*time.Millisecond, notification(2, notify.Trigger, "loadgen-r-2", "p1")) // 380 ms
	send(510*time.Millisecond, notification(3, notify.Trigger, "elsewhere-1", "p1")) // not our host
	send(520*time.Millisecond, notification(4, notify.Trigger, "loadgen-r-1", "p9")) // no such result
	send(530*time.Millisecond, notification(5, notify.Trigger, "loadgen-r-1", "p1")) // a second page
	send(540*time.Millisecond, notification(6, notify.Resolve, "loadgen-r-1", "p1"))

	t.Run("refused", func(t *testing.T) {
		for name, snd := range map[string]notify.Sender{
			"wrong secret": webhookSender(t, srv.URL, "not-the-secret"),
			"unsigned":     webhookSender(t, srv.URL, ""),
		} {
			err := snd.Send(ctx, notification(7, notify.Trigger, "loadgen-r-3", "p1"))
			if retry, _, status := notify.Classify(err); err == nil || retry || status != http.StatusUnauthorized {
				t.Errorf("%s: err %v, retry %v, status %d; want a permanent 401", name, err, retry, status)
			}
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("not json"))
		req.Header.Set(headerSignature, notify.Sign([]byte(secret), []byte("not json")))
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("malformed body: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		if resp, err := http.Get(srv.URL); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
	})

	a := rc.report(true)
	if a.Deliveries != 7 || a.Triggers != 5 || a.Unmatched != 2 || a.Duplicates != 1 || a.Retriggers != 1 ||
		a.BadSignature != 2 || a.Malformed != 1 || a.WithoutTrigger != 1 || !a.SignatureChecked || a.MaxInFlight != 1 {
		t.Errorf("report %+v", a)
	}
	if a.Events["trigger"] != 5 || a.Events["resolve"] != 1 || len(a.Events) != 2 {
		t.Errorf("events %v", a.Events)
	}
	l := a.Latency
	if l.Count != 2 || l.MaxMs != 380 || l.P50Ms < 250 || l.P50Ms > 252 || l.P99Ms != 380 {
		t.Errorf("latency %+v, want samples 250 ms and 380 ms", l)
	}
	if a.FirstTriggerAtSeconds != 0.35 || a.LastTriggerAtSeconds != 0.53 || a.FirstResultsToLastTriggerSeconds != 0.43 {
		t.Errorf("triggers between %v and %v, %vs after the first results", a.FirstTriggerAtSeconds, a.LastTriggerAtSeconds, a.FirstResultsToLastTriggerSeconds)
	}
	if rc.report(false).WithoutTrigger != 0 {
		t.Error("without_trigger counted for results that were not failing")
	}
}

func TestReceiverWithoutSecretTakesUnsigned(t *testing.T) {
	log := &resultsLog{}
	log.setHosts([]Identity{{Hostname: "h"}})
	log.sent(0, &wire.Results{Results: []policy.Result{{PolicyID: "p"}}}, 0)
	rc := newAlertReceiver("", log, (&fakeClock{now: time.Second}).since)
	srv := httptest.NewServer(rc)
	defer srv.Close()
	for _, secret := range []string{"", "anything"} {
		if err := webhookSender(t, srv.URL, secret).Send(context.Background(), notification(1, notify.Trigger, "h", "p")); err != nil {
			t.Fatal(err)
		}
	}
	if a := rc.report(true); a.SignatureChecked || a.Triggers != 1 || a.Duplicates != 1 || a.Latency.MaxMs != 1000 {
		t.Errorf("report %+v", a)
	}
}

func TestReceiverAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ts := newTestServer(t)
	cfg := testConfig(ts, 1)
	cfg.AlertReceiver = ln.Addr().String()
	rep, err := Run(context.Background(), cfg)
	if err == nil || rep != nil || !strings.Contains(err.Error(), "alert receiver") {
		t.Fatalf("Run with the receiver's port taken: report %v, err %v", rep != nil, err)
	}
	if n := len(ts.store.snapshot()); n != 0 {
		t.Errorf("%d agents enrolled although the run could not start", n)
	}
}

// TestAlertLatencyEndToEnd runs the whole loop against the fake server:
// a pushed policy set, failing results committed by the real gateway, and
// for each status change a signed webhook from the server's own sender
// (the first one delivered twice, as after a crash), which the receiver
// must match to the agent and policy that sent the result.
func TestAlertLatencyEndToEnd(t *testing.T) {
	const agents, secret = 5, "hook-secret"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ts := newTestServer(t)
	snd := webhookSender(t, "http://"+addr+"/steward", secret)
	var sends sync.WaitGroup
	var ids atomic.Int64
	ts.onResults = func(tr []store.Transition) {
		for _, x := range tr {
			if x.To != policy.StatusFail {
				continue
			}
			m := notification(ids.Add(1), notify.Trigger, ts.store.hostname(x.HostID), x.PolicyID)
			sends.Go(func() {
				times := 1
				if m.NotificationID == 1 {
					times = 2
				}
				for range times {
					if err := snd.Send(context.Background(), m); err != nil {
						t.Errorf("notification %d: %v", m.NotificationID, err)
					}
				}
			})
		}
	}
	cfg := testConfig(ts, agents)
	cfg.Duration = 2 * time.Second
	cfg.Results = ResultsFail
	cfg.AlertReceiver = addr
	cfg.AlertSecret = secret
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		ts.pushPolicies(t, agents, "pol-a", "pol-b")
	}()
	rep, err := Run(context.Background(), cfg)
	<-pushed
	sends.Wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	ts.waitIdle(t)
	if rep.Failed {
		t.Fatalf("run failed: %v", rep.Problems)
	}
	a := rep.Alerts
	if a == nil || a.Receiver != addr || a.Triggers != 2*agents || a.Deliveries != 2*agents+1 || a.Duplicates != 1 ||
		a.Unmatched != 0 || a.Retriggers != 0 || a.WithoutTrigger != 0 || a.BadSignature != 0 {
		t.Fatalf("alerts report %+v", a)
	}
	if a.MaxInFlight < 1 || a.MaxInFlight > 2*agents+1 {
		t.Errorf("max in flight %d", a.MaxInFlight)
	}
	if a.Latency.Count != 2*agents || a.Latency.MaxMs <= 0 || a.Latency.MaxMs > 2000 {
		t.Errorf("latency %+v", a.Latency)
	}
	if a.FirstResultsToLastTriggerSeconds <= 0 || a.FirstResultsToLastTriggerSeconds < a.Latency.MaxMs/1000-0.001 {
		t.Errorf("first results to last trigger %vs, slowest trigger %vms", a.FirstResultsToLastTriggerSeconds, a.Latency.MaxMs)
	}
	if len(rep.Warnings) == 0 || !strings.Contains(strings.Join(rep.Warnings, "\n"), "repeated a notification id") {
		t.Errorf("no warning about the repeated delivery: %v", rep.Warnings)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"results   fail: 5 messages with 10 results sent, 5 acked, 0 unacked",
		"alerts    webhook on " + addr + " (signatures checked): 11 deliveries, 10 triggers, 0 unmatched, 1 duplicates",
		"result to trigger p50 ", "first results sent to last trigger"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

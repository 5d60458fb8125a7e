package alerting

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/alerting/notify"
	"github.com/steward-project/steward/server/internal/store"
)

const (
	// claimBatch is how many rows one claim takes.
	claimBatch = 64
	// pollInterval is how often workers look for due rows when nothing
	// woke them: retries coming due, rows other replicas wrote.
	pollInterval = time.Second
	// recordBatch and recordDelay bound how outcomes are grouped into one
	// write.
	recordBatch = 256
	recordDelay = 5 * time.Millisecond
)

// backlogFactor is how many rows per send slot a receiver may have
// claimed and waiting here: enough that claims stay large while a burst
// drains, few enough that the last of them is sent well within its lease.
const backlogFactor = 4

// slots bounds each receiver twice: at most limit sends in flight (a
// semaphore per receiver), and at most backlogFactor × limit rows claimed
// and not yet finished, past which claims skip the receiver. A receiver
// that hangs therefore holds up only its own rows, and a slow one is never
// sent more than limit requests at once.
type slots struct {
	mu      sync.Mutex
	claimed map[string]int
	sem     map[string]chan struct{}
	limit   int
}

func newSlots(limit int) *slots {
	return &slots{claimed: map[string]int{}, sem: map[string]chan struct{}{}, limit: max(limit, 1)}
}

// full lists the receivers with a full backlog.
func (s *slots) full() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for r, n := range s.claimed {
		if n >= backlogFactor*s.limit {
			out = append(out, r)
		}
	}
	return out
}

// claim counts a claimed row of receiver r and returns the receiver's
// send semaphore.
func (s *slots) claim(r string) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.claimed[r]++
	sem := s.sem[r]
	if sem == nil {
		sem = make(chan struct{}, s.limit)
		s.sem[r] = sem
	}
	return sem
}

func (s *slots) done(r string) {
	s.mu.Lock()
	s.claimed[r]--
	s.mu.Unlock()
}

// lease is how long a claim holds: the longest a claimed row can wait
// for a send slot and then be sent, with room for recording the outcome.
func lease(d alertconf.Delivery) time.Duration {
	return time.Duration(backlogFactor+1)*d.Timeout + 15*time.Second
}

// deliverLoop runs the claiming workers until ctx ends, then waits for the
// sends in flight and records their outcomes, so a clean shutdown leaves
// nothing to re-send.
func (e *Engine) deliverLoop(ctx context.Context) {
	d := e.cur.Load().conf.Delivery
	workers := e.workers
	if workers <= 0 {
		workers = max(d.Workers, 1)
	}
	sl := newSlots(d.PerReceiver)
	outcomes := make(chan store.NotificationOutcome, 1024)
	recorded := make(chan struct{})
	go func() { defer close(recorded); e.recordLoop(outcomes) }()
	var sends sync.WaitGroup
	var claimers sync.WaitGroup
	for range workers {
		claimers.Go(func() { e.claimLoop(ctx, sl, &sends, outcomes) })
	}
	claimers.Wait()
	sends.Wait()
	close(outcomes)
	<-recorded
}

func (e *Engine) claimLoop(ctx context.Context, sl *slots, sends *sync.WaitGroup, outcomes chan<- store.NotificationOutcome) {
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.deliver:
		case <-poll.C:
		}
		for ctx.Err() == nil {
			cur := e.cur.Load()
			skip := sl.full()
			if allSkipped(cur, skip) {
				// Every receiver is at its bound, so a claim could only
				// return rows of receivers no longer configured, and the
				// next claim takes those: a finishing send wakes this loop.
				// Not asking saves the database a transaction per finished
				// send while a burst drains (9 in 10 claims came back empty).
				break
			}
			d := cur.conf.Delivery
			claimed, err := e.st.ClaimNotifications(ctx, store.NotificationClaim{
				Now: e.now(), Lease: lease(d), Limit: claimBatch, Skip: skip,
			})
			if err != nil {
				if ctx.Err() == nil {
					e.log.Warn("claim notifications", "err", err)
				}
				break
			}
			for _, n := range claimed {
				sem := sl.claim(n.Receiver)
				sends.Go(func() {
					defer func() {
						sl.done(n.Receiver)
						e.signal(e.deliver) // the backlog has room
					}()
					sem <- struct{}{}
					defer func() { <-sem }()
					outcomes <- e.send(context.WithoutCancel(ctx), n)
				})
			}
			if len(claimed) < claimBatch {
				break
			}
		}
		poll.Reset(pollInterval)
	}
}

// allSkipped reports whether every receiver of s is in skip.
func allSkipped(s *state, skip []string) bool {
	if len(s.senders) == 0 || len(skip) < len(s.senders) {
		return false
	}
	n := 0
	for _, r := range skip {
		if _, ok := s.senders[r]; ok {
			n++
		}
	}
	return n == len(s.senders)
}

// send delivers one claimed row and says what became of it.
func (e *Engine) send(ctx context.Context, n store.ClaimedNotification) store.NotificationOutcome {
	s := e.cur.Load()
	out := store.NotificationOutcome{ID: n.ID, Attempts: n.Attempts}
	snd, ok := s.senders[n.Receiver]
	if !ok {
		out.State, out.At = store.NotificationDead, e.now()
		out.Error = fmt.Sprintf("receiver %s is not in the alerting configuration", n.Receiver)
		e.deadLetter(n, out)
		return out
	}
	if !snd.Handles(notify.Event(n.Event)) {
		out.State, out.At = store.NotificationSkipped, e.now()
		e.countSend(n.Receiver, "skipped")
		return out
	}
	start := time.Now()
	err := snd.Send(ctx, e.message(s, n))
	out.At = e.now()
	if e.m != nil {
		e.m.NotificationDuration.WithLabelValues(n.Receiver).Observe(time.Since(start).Seconds())
	}
	if err == nil {
		out.State = store.NotificationSent
		e.countSend(n.Receiver, "sent")
		if e.m != nil {
			e.m.NotificationDelay.WithLabelValues(n.Event).Observe(out.At.Sub(n.CreatedAt).Seconds())
		}
		return out
	}
	retry, after, status := notify.Classify(err)
	out.Error, out.Status = err.Error(), status
	d := s.conf.Delivery
	switch {
	case !retry:
		out.State = store.NotificationDead
	case n.Attempts >= d.MaxAttempts:
		out.State = store.NotificationDead
		out.Error = fmt.Sprintf("gave up after %d attempts: %s", n.Attempts, out.Error)
	default:
		out.State = store.NotificationPending
		out.NextAttemptAt = out.At.Add(retryDelay(d, n.Attempts, after))
		e.countSend(n.Receiver, "failed")
		e.log.Warn("notification failed; will retry", "receiver", n.Receiver, "alert_id", n.AlertID,
			"event", n.Event, "attempt", n.Attempts, "retry_at", out.NextAttemptAt, "err", err)
		return out
	}
	e.deadLetter(n, out)
	return out
}

// retryDelay is the wait before attempt n+1: what the receiver asked for,
// or exponential backoff with full jitter over [base/2, cap].
func retryDelay(d alertconf.Delivery, attempt int, asked time.Duration) time.Duration {
	if asked > 0 {
		return min(asked, time.Hour)
	}
	ceil := d.BackoffBase
	for i := 1; i < attempt && ceil < d.BackoffMax; i++ {
		ceil *= 2
	}
	ceil = min(ceil, d.BackoffMax)
	floor := d.BackoffBase / 2
	if ceil <= floor {
		return floor
	}
	return floor + rand.N(ceil-floor)
}

func (e *Engine) deadLetter(n store.ClaimedNotification, out store.NotificationOutcome) {
	e.countSend(n.Receiver, "dead")
	e.log.Error("notification dead-lettered", "notification_id", n.ID, "receiver", n.Receiver, "alert_id", n.AlertID,
		"event", n.Event, "attempts", n.Attempts, "status", out.Status, "err", out.Error)
}

func (e *Engine) countSend(receiver, result string) {
	if e.m != nil {
		e.m.Notifications.WithLabelValues(receiver, result).Inc()
	}
}

// message is the notify form of a claimed row.
func (e *Engine) message(s *state, n store.ClaimedNotification) notify.Message {
	return notify.Message{NotificationID: n.ID, Event: notify.Event(n.Event), Alert: e.notifyAlert(s, n.Alert), At: n.At}
}

func (e *Engine) notifyAlert(s *state, a store.Alert) notify.Alert {
	ann := make(map[string]string, len(a.Annotations)+1)
	for k, v := range a.Annotations {
		ann[k] = v
	}
	base := s.conf.ExternalURL
	if base == "" {
		base = e.extURL
	}
	if base != "" {
		ann["url"] = strings.TrimRight(base, "/") + "/api/v1/alerts/" + strconv.FormatInt(a.ID, 10)
	}
	return notify.Alert{ID: a.ID, DedupKey: a.DedupKey(), Rule: a.Rule, HostID: a.HostID, Hostname: a.Labels["hostname"],
		Subject: a.Subject, Severity: a.Severity, State: a.State, Labels: a.Labels, Annotations: ann,
		StartsAt: a.StartedAt, AckedAt: a.AckedAt, AckedBy: a.AckedBy, AckComment: a.AckComment, ResolvedAt: a.ResolvedAt}
}

// recordLoop writes outcomes in groups until outcomes is closed. A write
// that fails leaves its rows claimed; they are sent again when the lease
// ends, which is the at-least-once the design accepts.
func (e *Engine) recordLoop(outcomes <-chan store.NotificationOutcome) {
	batch := make([]store.NotificationOutcome, 0, recordBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := e.st.RecordOutcomes(ctx, batch)
			cancel()
			if err == nil {
				break
			}
			if attempt == 3 {
				e.log.Error("delivery outcomes not recorded; their notifications will be sent again", "count", len(batch), "err", err)
				break
			}
			time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
		}
		batch = batch[:0]
		e.signal(e.deliver) // rows waiting behind these may be due now
	}
	for o := range outcomes {
		batch = append(batch, o)
		timeout := time.NewTimer(recordDelay)
	fill:
		for len(batch) < recordBatch {
			select {
			case o, ok := <-outcomes:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			case <-timeout.C:
				break fill
			}
		}
		timeout.Stop()
		flush()
	}
	flush()
}

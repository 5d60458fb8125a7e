package alerting

import (
	"context"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/notify"
)

// refreshBatch is how many alerts one Alertmanager re-post carries.
const refreshBatch = 500

// refreshLoop re-posts every open alert that reached an Alertmanager
// receiver, every resend interval, so Alertmanager does not let it
// expire. A missed round is made up by the next: the store holds the
// truth, and Alertmanager only ends an alert four intervals after the last
// post.
func (e *Engine) refreshLoop(ctx context.Context) {
	timer := time.NewTimer(e.cur.Load().conf.Delivery.ResendInterval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s := e.cur.Load()
		for name, snd := range s.senders {
			am, ok := snd.(*notify.Alertmanager)
			if !ok {
				continue
			}
			if n, err := e.refresh(ctx, s, name, am); err != nil {
				e.log.Warn("alertmanager re-post failed; next round retries", "receiver", name, "posted", n, "err", err)
			}
		}
		timer.Reset(s.conf.Delivery.ResendInterval)
	}
}

// refresh posts one receiver's open alerts in batches and returns how
// many it posted.
func (e *Engine) refresh(ctx context.Context, s *state, name string, am *notify.Alertmanager) (int, error) {
	posted := 0
	for after := int64(0); ; {
		page, err := e.st.OpenAlertsSentTo(ctx, name, after, refreshBatch)
		if err != nil {
			return posted, err
		}
		if len(page) == 0 {
			return posted, nil
		}
		alerts := make([]notify.Alert, len(page))
		for i, a := range page {
			alerts[i] = e.notifyAlert(s, a)
		}
		if err := am.Post(ctx, alerts, e.now()); err != nil {
			return posted, err
		}
		posted += len(page)
		if e.m != nil {
			e.m.AlertmanagerReposts.WithLabelValues(name).Add(float64(len(page)))
		}
		if len(page) < refreshBatch {
			return posted, nil
		}
		after = page[len(page)-1].ID
	}
}

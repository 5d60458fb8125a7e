package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// alertmanager is a real Prometheus Alertmanager (Debian's
// prometheus-alertmanager) on a loopback port, with clustering off and
// one receiver: a webhook to this test process, so the test sees what
// Alertmanager itself concluded about each alert (firing, resolved).
type alertmanager struct {
	*proc
	url string

	mu     sync.Mutex
	hooked []amWebhookAlert
}

// amAlert is an alert as GET /api/v2/alerts lists it.
type amAlert struct {
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	EndsAt   time.Time         `json:"endsAt"`
	Status   struct {
		State string `json:"state"`
	} `json:"status"`
}

// amWebhookAlert is one alert of a notification Alertmanager sent to its
// webhook receiver.
type amWebhookAlert struct {
	Status   string            `json:"status"`
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	EndsAt   time.Time         `json:"endsAt"`
}

func startAlertmanager(t *testing.T) *alertmanager {
	t.Helper()
	path, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		t.Fatalf("prometheus-alertmanager not found (%v): install it with `apt-get install -y prometheus-alertmanager` "+
			"(scripts/test-deps.sh does)", err)
	}
	am := &alertmanager{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct {
			Alerts []amWebhookAlert `json:"alerts"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &n); err != nil {
			t.Errorf("alertmanager webhook: %v: %s", err, body)
		}
		am.mu.Lock()
		am.hooked = append(am.hooked, n.Alerts...)
		am.mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, conf, fmt.Sprintf(`route:
  receiver: test
  group_by: [steward_alert_id]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: %s/alertmanager
        send_resolved: true
`, hook.URL))
	addr := freeAddr(t)
	am.url = "http://" + addr
	am.proc = startPath(t, path, nil, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=info")
	eventually(t, 30*time.Second, "alertmanager ready", func() (bool, string) {
		if am.exited() {
			t.Fatalf("alertmanager exited: %v\n%s", am.err, am.Output())
		}
		resp, err := http.Get(am.url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return am
}

// alerts lists what GET /api/v2/alerts shows with its default filters
// (active, silenced, inhibited and unprocessed alerts: every alert whose
// endsAt has not passed).
func (am *alertmanager) alerts(t *testing.T) []amAlert {
	t.Helper()
	resp, err := http.Get(am.url + "/api/v2/alerts")
	if err != nil {
		t.Fatalf("alertmanager: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out []amAlert
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("alertmanager GET /api/v2/alerts: %s: %s", resp.Status, body)
	}
	return out
}

// alert finds the alert of one Steward episode in GET /api/v2/alerts.
func (am *alertmanager) alert(t *testing.T, alertID int64) (amAlert, bool) {
	t.Helper()
	for _, a := range am.alerts(t) {
		if a.Labels["steward_alert_id"] == itoa(alertID) {
			return a, true
		}
	}
	return amAlert{}, false
}

// notified returns what Alertmanager's own notifications said about one
// Steward episode, in order.
func (am *alertmanager) notified(alertID int64) []amWebhookAlert {
	am.mu.Lock()
	defer am.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(am.hooked), func(a amWebhookAlert) bool {
		return a.Labels["steward_alert_id"] != itoa(alertID)
	})
}

package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	promclient "github.com/prometheus/client_golang/prometheus"

	"github.com/steward-project/steward/dashboards/preview"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/pgtest"
)

// TestDashboardQueries runs every query of every Grafana dashboard and
// every Prometheus rule against real data: a steward-server on a real
// PostgreSQL with the baseline policy pack, alerting rules and two
// webhook receivers (one accepts, one refuses); a real agent; two
// steward-loadgen fleets (one failing every policy and staying connected,
// one passing and leaving, so hosts go offline); a real Prometheus
// scraping the server every second with the rule files loaded. Then:
//
//   - every variable resolves to values, from Prometheus or PostgreSQL;
//   - every PromQL target runs as instant and range query without error,
//     with the dashboards' saved variable values and again with values
//     picked from each variable's options;
//   - every SQL target, its macros expanded as Grafana does, runs without
//     error as the read-only role dashboards/provisioning creates;
//   - every core panel (dashboards/generate.CorePanels) returns data;
//   - every rule's expression runs, and Prometheus evaluates every rule
//     without error;
//   - every metric name a dashboard or rule reads is exported by the
//     server or recorded by a rule file.
//
// With STEWARD_PREVIEW_DIR set, it draws one PNG per dashboard there
// from the query results (package dashboards/preview; make previews).
// STEWARD_DASHBOARDS_DIR points it at another dashboards directory (one
// with grafana/, prometheus/ and core-panels.json, such as
// dashboards/preview/testdata).
func TestDashboardQueries(t *testing.T) {
	t.Parallel()
	began := time.Now()
	set := loadDashSet(t)
	loadgen := loadgenBin(t)
	db := pgtest.NewDatabase(t)
	dir := t.TempDir()

	// Three receivers: notifications to hook are sent, those to refused
	// are dead letters at once (a 400 is final), those to later stay
	// pending (a 503 asking to retry in an hour).
	var delivered, refusedN atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { delivered.Add(1) }))
	t.Cleanup(hook.Close)
	refused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refusedN.Add(1)
		http.Error(w, "no", http.StatusBadRequest)
	}))
	t.Cleanup(refused.Close)
	later := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	t.Cleanup(later.Close)
	// The agent inventories every 3 s, so that a port the test opens
	// shows as an inventory change.
	conf := filepath.Join(dir, "steward.yaml")
	writeFile(t, conf, fmt.Sprintf(`metrics:
  fleet_interval: 1s
agent:
  heartbeat_interval: 2s
  inventory_interval: 3s
alerting:
  receivers:
    - name: hook
      webhook: {url: %s/steward}
    - name: refused
      webhook: {url: %s/steward}
    - name: later
      webhook: {url: %s/steward}
  routes:
    - receivers: [hook, refused, later]
  rules:
    - name: policy-failing
      type: policy_failing
      min_severity: critical
    - name: host-offline
      type: host_offline
      after: 10s
`, hook.URL, refused.URL, later.URL))
	s := startServer(t, db, "--config", conf, "--log-level", "info")
	prom := startPrometheus(t, strings.TrimPrefix(s.url, "http://"), set.ruleFiles)
	readerURL := grafanaReader(t, db)

	// The baseline pack, and a critical policy that fails everywhere but
	// on the passing fleet: it raises the alerts.
	probe := filepath.Join(dir, "probe.yaml")
	writeFile(t, probe, `policies:
  - id: e2e-dashboards-probe
    title: The dashboards test's probe file exists
    severity: critical
    platforms: [linux]
    check:
      file: {path: `+filepath.Join(dir, "absent")+`, exists: true}
`)
	s.ctl(t, "policies", "apply", "-f", filepath.Join(repoRoot(t), "shared", "policy", "baseline"), "-f", probe)
	s.startAgent(t, filepath.Join(dir, "agent"))
	hostname, _ := os.Hostname()
	secret := filepath.Join(s.dataDir, "enroll-secret")
	fleetArgs := []string{"--server", s.url, "--enroll-secret-file", secret, "--packages", "60", "--heartbeat", "1s", "--quiet"}
	// One fleet fails every policy and stays until the test ends; the
	// other passes them and leaves after 2 s, so its hosts go offline.
	startPath(t, loadgen, nil, slices.Concat(fleetArgs, []string{"--agents", "20", "--results", "fail", "--duration", "10m"})...)
	passing := startPath(t, loadgen, nil, slices.Concat(fleetArgs, []string{"--agents", "6", "--results", "pass", "--duration", "2s"})...)

	// An exemption of a failing loadgen host, for the exempt status.
	hostID := int64(0)
	eventually(t, 60*time.Second, "a failing loadgen host's probe result", func() (bool, string) {
		r := s.results(t, "e2e-dashboards-probe", "--status", "fail")
		for _, res := range r.Results {
			if strings.HasPrefix(res.Hostname, "loadgen-") {
				hostID = res.HostID
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", r.Results)
	})
	s.ctl(t, "exemptions", "add", "--policy", "e2e-dashboards-probe", "--host", itoa(hostID),
		"--reason", "dashboards test", "--owner", "e2e", "--expires", "72h")
	// A silence, for muted alerts: the first host of each fleet, when it
	// goes offline.
	s.ctl(t, "silences", "add", "--match", "rule=host-offline", "--match", "hostname=~loadgen-.*-1",
		"--comment", "dashboards test", "--duration", "1h")

	// A port opened after the agent's first inventory is an inventory
	// change in its next one.
	eventually(t, 60*time.Second, "the agent's first inventory", func() (bool, string) {
		var ch struct {
			Changes []struct {
				HostID int64 `json:"host_id"`
			} `json:"changes"`
		}
		var hosts hostsResponse
		s.get(t, "/api/v1/hosts?limit=1000", &hosts)
		s.get(t, "/api/v1/changes?kind=first_inventory&limit=1000", &ch)
		for _, h := range hosts.Hosts {
			for _, c := range ch.Changes {
				if h.Hostname == hostname && c.HostID == h.ID {
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("%d first inventories", len(ch.Changes))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })

	// Alerts firing, one acknowledged, hosts offline (the passing fleet
	// left), notifications sent, dead and pending, and the port's change.
	acked := int64(0)
	eventually(t, 120*time.Second, "alerts, notifications and offline hosts", func() (bool, string) {
		if passing.exited() && passing.err != nil {
			t.Fatalf("the passing loadgen fleet failed: %v\n%s", passing.err, passing.Output())
		}
		counts := map[string]int{}
		for _, a := range s.apiAlerts(t) {
			counts[a.Rule+"/"+a.State]++
			if acked == 0 && a.Rule == "policy-failing" && a.State == "firing" {
				s.ctl(t, "alerts", "ack", itoa(a.ID), "--comment", "dashboards test")
				acked = a.ID
			}
		}
		states := map[string]int{}
		for _, n := range s.apiNotifications(t) {
			states[n.State]++
		}
		var ports struct {
			Changes []struct{} `json:"changes"`
		}
		s.get(t, "/api/v1/changes?kind=port_opened&limit=10", &ports)
		ok := counts["policy-failing/firing"] > 0 && counts["policy-failing/acknowledged"] > 0 &&
			counts["host-offline/firing"] > 0 && states["sent"] > 0 && states["dead"] > 0 && states["pending"] > 0 &&
			len(ports.Changes) > 0
		return ok, fmt.Sprintf("alerts %v, notifications %v, %d ports opened", counts, states, len(ports.Changes))
	})

	// Prometheus has scraped long enough for the rate windows, has
	// evaluated every rule, and its series show what the server holds.
	recorded := map[string]string{}
	for _, r := range set.rules {
		if r.record != "" {
			recorded[r.record] = r.expr
		}
	}
	eventually(t, 120*time.Second, "Prometheus to hold the fleet and evaluate every rule", func() (bool, string) {
		if prom.exited() {
			t.Fatalf("prometheus exited: %v\n%s", prom.err, prom.Output())
		}
		first, ok := prom.firstScrape(t)
		if !ok || time.Since(first) < minRateInterval+2*time.Second {
			return false, fmt.Sprintf("first scrape at %v", first)
		}
		for group, rs := range prom.rules(t) {
			for _, r := range rs {
				if r.LastEvaluation.IsZero() || r.LastEvaluation.Before(first) {
					return false, "rule " + r.Name + " of " + group + " not evaluated yet"
				}
			}
		}
		// Series must have been there for a few seconds, so that range
		// queries have several steps with them. (The alert and outbox
		// gauges are refreshed every 30 s: they are the last to come.)
		settled := time.Now().Add(-3 * time.Second)
		for _, want := range []string{`steward_hosts{online="false"}`, `steward_alerts{state="acknowledged"}`,
			`steward_policy_results{status="exempt"}`, `steward_notifications_queued{state="dead"}`,
			`steward_alerts{state="muted"}`, `steward_notifications_queued{state="pending"}`} {
			if r, _, err := prom.query(want, settled); err != nil || len(r.Series) == 0 {
				return false, want + " not in Prometheus yet"
			}
		}
		// Each recording rule has samples, unless its expression has
		// nothing to record.
		for name, expr := range recorded {
			if r, _, err := prom.query("count("+name+")", settled); err == nil && len(r.Series) > 0 {
				continue
			}
			if r, _, err := prom.query(expr, settled); err == nil && len(r.Series) > 0 {
				return false, "recording rule " + name + " has no samples yet"
			}
		}
		return true, ""
	})
	setupDone := time.Now()

	pg, err := pgx.Connect(context.Background(), readerURL)
	if err != nil {
		t.Fatalf("connect as the dashboards' read-only role: %v", err)
	}
	defer pg.Close(context.Background())
	// Queries cover the test's lifetime: every sample and row it made.
	c := &dashChecker{t: t, prom: prom, pg: pg, from: began.Truncate(time.Second), to: time.Now()}
	runs := map[string]*dashRun{}
	for _, d := range set.dashboards {
		runs[d.UID] = c.run(d, false)
		c.run(d, true)
	}
	c.checkRules(set.rules)
	c.checkCore(set, runs)
	names := map[string]bool{}
	for name := range recorded {
		names[name] = true
	}
	c.checkMetricNames(exportedMetricNames(t, s), names)

	if out := os.Getenv("STEWARD_PREVIEW_DIR"); out != "" {
		writePreviews(t, out, set, runs, c)
	}
	for _, n := range c.notes {
		t.Log(n)
	}
	for _, p := range c.problems {
		t.Error(p)
	}
	noData := 0
	for _, d := range set.dashboards {
		for _, p := range d.AllPanels() {
			if len(p.Targets) > 0 && !runs[d.UID].hasData[p.Key()] {
				noData++
				t.Logf("dashboard %s, panel %q: no data in this run (not a core panel failure unless listed above)", d.UID, p.Title)
			}
		}
	}
	t.Logf("%d dashboards, %d rules, %d PromQL and %d SQL queries, %d problems, %d panels without data; setup %v, queries %v, total %v",
		len(set.dashboards), len(set.rules), c.promQueries, c.sqlQueries, len(c.problems), noData,
		setupDone.Sub(began).Round(100*time.Millisecond), time.Since(setupDone).Round(100*time.Millisecond),
		time.Since(began).Round(100*time.Millisecond))
	t.Logf("webhook deliveries: %d accepted, %d refused", delivered.Load(), refusedN.Load())
}

// writePreviews draws each dashboard from its run's results into dir
// (relative paths are taken from the repository's root).
func writePreviews(t *testing.T, dir string, set *dashSet, runs map[string]*dashRun, c *dashChecker) {
	t.Helper()
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot(t), dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range set.dashboards {
		r := runs[d.UID]
		path := filepath.Join(dir, d.UID+".png")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		err = preview.WritePNG(f, d, r.results, preview.Options{From: c.from, To: c.to, Env: r.env})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Errorf("preview of %s: %v", d.UID, err)
			continue
		}
		t.Logf("wrote %s", path)
	}
}

// grafanaReader creates the dashboards' read-only PostgreSQL role with
// dashboards/provisioning/postgres-reader.sql, run by psql as the owner of
// the database (as an operator would), and returns a URL that connects as
// it. The role is dropped when the test ends.
func grafanaReader(t *testing.T, db string) string {
	t.Helper()
	script := filepath.Join(repoRoot(t), "dashboards", "provisioning", "postgres-reader.sql")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("the read-only role's script: %v", err)
	}
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql not found (%v): install it with `apt-get install -y postgresql-client-15`", err)
	}
	u, err := url.Parse(db)
	if err != nil {
		t.Fatal(err)
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	password := hex.EncodeToString(rnd[:])
	cmd := exec.Command(psql, "-X", "-q", "-v", "owner="+u.User.Username(), "-v", "password="+password, "-f", script, db)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql -f %s: %v\n%s", script, err, out)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, db)
		if err != nil {
			t.Errorf("drop the read-only role: %v", err)
			return
		}
		defer conn.Close(ctx)
		for _, q := range []string{"DROP OWNED BY steward_grafana", "DROP ROLE steward_grafana"} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	u.User = url.UserPassword("steward_grafana", password)
	return u.String()
}

var (
	loadgenOnce sync.Once
	loadgenErr  error
)

// loadgenBin builds steward-loadgen next to the other binaries, once.
func loadgenBin(t *testing.T) string {
	t.Helper()
	loadgenOnce.Do(func() {
		build := exec.Command("go", "build", "-o", binDir+"/", "github.com/steward-project/steward/server/cmd/steward-loadgen")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			loadgenErr = fmt.Errorf("build steward-loadgen: %v\n%s", err, out)
		}
	})
	if loadgenErr != nil {
		t.Fatal(loadgenErr)
	}
	return bin("steward-loadgen")
}

var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

// exportedMetricNames is every metric family steward-server defines (its
// registry, with the TLS gauge it adds when serving TLS) and every family
// the running server exposes (collectors registered at run time, such as
// the database pool's).
func exportedMetricNames(t *testing.T, s *server) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	m := metrics.New("e2e")
	m.RegisterTLSExpiry(time.Now())
	ch := make(chan *promclient.Desc, 64)
	go func() {
		m.Registry.Describe(ch)
		close(ch)
	}()
	for d := range ch {
		if g := fqNameRE.FindStringSubmatch(d.String()); g != nil {
			out[g[1]] = true
		}
	}
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
		} else if line != "" && !strings.HasPrefix(line, "#") {
			out[strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]] = true
		}
	}
	if len(out) < 20 {
		names := make([]string, 0, len(out))
		for n := range out {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Fatalf("only %d metric names found: %v", len(out), names)
	}
	return out
}

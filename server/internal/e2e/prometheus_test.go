package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// promServer is a real Prometheus server (Debian's prometheus package)
// on a loopback port with its storage in a temporary directory, scraping
// one steward-server every second and evaluating rule files every
// second.
type promServer struct {
	*proc
	url     string
	started time.Time
}

// startPrometheus starts Prometheus scraping target (host:port) as job
// "steward" and loading ruleFiles.
func startPrometheus(t *testing.T, target string, ruleFiles []string) *promServer {
	t.Helper()
	path, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus not found (%v): install it with `apt-get install -y prometheus` "+
			"(scripts/test-deps.sh does)", err)
	}
	dir := t.TempDir()
	var rules strings.Builder
	for _, f := range ruleFiles {
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&rules, "  - %q\n", abs)
	}
	conf := filepath.Join(dir, "prometheus.yml")
	writeFile(t, conf, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
%sscrape_configs:
  - job_name: steward
    static_configs:
      - targets: [%q]
`, rules.String(), target))
	addr := freeAddr(t)
	p := &promServer{url: "http://" + addr, started: time.Now()}
	p.proc = startPath(t, path, nil, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--storage.tsdb.retention.time=1h", "--log.level=warn")
	eventually(t, 60*time.Second, "prometheus ready", func() (bool, string) {
		if p.exited() {
			t.Fatalf("prometheus exited: %v\n%s", p.err, p.Output())
		}
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return p
}

// promResponse is the envelope of every Prometheus API answer.
type promResponse struct {
	Status    string   `json:"status"`
	ErrorType string   `json:"errorType"`
	Error     string   `json:"error"`
	Warnings  []string `json:"warnings"`
	Data      json.RawMessage
}

// promSample is one series of a vector or matrix result; Values holds
// the one sample of a vector too.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Values []promPoint       `json:"values"`
	Value  *promPoint        `json:"value"`
}

// promPoint is a [unix seconds, "value"] pair.
type promPoint struct {
	T float64
	V float64
	S string
}

func (p *promPoint) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != 2 {
		return fmt.Errorf("sample %s: %v", b, err)
	}
	if err := json.Unmarshal(raw[0], &p.T); err != nil {
		return err
	}
	if err := json.Unmarshal(raw[1], &p.S); err != nil {
		return err
	}
	v, err := strconv.ParseFloat(p.S, 64)
	if err != nil {
		v = math.NaN()
	}
	p.V = v
	return nil
}

// promResult is a decoded query result: vector and matrix results as
// series, a scalar as one series without labels.
type promResult struct {
	Type   string
	Series []promSample
}

// Samples counts the samples of every series.
func (r promResult) Samples() int {
	n := 0
	for _, s := range r.Series {
		n += len(s.Values)
	}
	return n
}

// api calls a Prometheus API endpoint with form parameters (POST, so
// long expressions fit) and returns the data, or the API's error.
func (p *promServer) api(path string, params url.Values) (json.RawMessage, []string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+path, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, nil, fmt.Errorf("%s: HTTP %d: %.300s", path, resp.StatusCode, body)
	}
	if r.Status != "success" {
		return nil, r.Warnings, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return r.Data, r.Warnings, nil
}

// query runs an instant query at ts.
func (p *promServer) query(expr string, ts time.Time) (promResult, []string, error) {
	data, warn, err := p.api("/api/v1/query", url.Values{"query": {expr}, "time": {promTime(ts)}})
	if err != nil {
		return promResult{}, warn, err
	}
	r, err := decodeResult(data)
	return r, warn, err
}

// queryRange runs a range query.
func (p *promServer) queryRange(expr string, from, to time.Time, step time.Duration) (promResult, []string, error) {
	data, warn, err := p.api("/api/v1/query_range", url.Values{"query": {expr}, "start": {promTime(from)},
		"end": {promTime(to)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}})
	if err != nil {
		return promResult{}, warn, err
	}
	r, err := decodeResult(data)
	return r, warn, err
}

func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

func decodeResult(data json.RawMessage) (promResult, error) {
	var d struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return promResult{}, err
	}
	r := promResult{Type: d.ResultType}
	switch d.ResultType {
	case "vector", "matrix":
		if err := json.Unmarshal(d.Result, &r.Series); err != nil {
			return r, err
		}
		for i := range r.Series {
			if v := r.Series[i].Value; v != nil {
				r.Series[i].Values = []promPoint{*v}
			}
		}
	case "scalar":
		var pt promPoint
		if err := json.Unmarshal(d.Result, &pt); err != nil {
			return r, err
		}
		r.Series = []promSample{{Metric: map[string]string{}, Values: []promPoint{pt}}}
	default:
		return r, fmt.Errorf("result type %q is not a number (Grafana cannot chart it)", d.ResultType)
	}
	return r, nil
}

// labelValues lists a label's values, over series matching match when
// set, within [from, to].
func (p *promServer) labelValues(label, match string, from, to time.Time) ([]string, error) {
	params := url.Values{"start": {promTime(from)}, "end": {promTime(to)}}
	if match != "" {
		params["match[]"] = []string{match}
	}
	data, _, err := p.get("/api/v1/label/"+url.PathEscape(label)+"/values", params)
	if err != nil {
		return nil, err
	}
	var out []string
	return out, json.Unmarshal(data, &out)
}

// labelNames lists label names, over series matching match when set.
func (p *promServer) labelNames(match string, from, to time.Time) ([]string, error) {
	params := url.Values{"start": {promTime(from)}, "end": {promTime(to)}}
	if match != "" {
		params["match[]"] = []string{match}
	}
	data, _, err := p.api("/api/v1/labels", params)
	if err != nil {
		return nil, err
	}
	var out []string
	return out, json.Unmarshal(data, &out)
}

// series lists the label sets of the series matching match.
func (p *promServer) series(match string, from, to time.Time) ([]map[string]string, error) {
	data, _, err := p.api("/api/v1/series", url.Values{"match[]": {match}, "start": {promTime(from)}, "end": {promTime(to)}})
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	return out, json.Unmarshal(data, &out)
}

// get is api for the endpoints that only answer GET.
func (p *promServer) get(path string, params url.Values) (json.RawMessage, []string, error) {
	resp, err := http.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, nil, fmt.Errorf("%s: HTTP %d: %.300s", path, resp.StatusCode, body)
	}
	if r.Status != "success" {
		return nil, r.Warnings, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	return r.Data, r.Warnings, nil
}

// promRule is a rule as GET /api/v1/rules reports it.
type promRule struct {
	Name           string    `json:"name"`
	Query          string    `json:"query"`
	Type           string    `json:"type"`
	Health         string    `json:"health"`
	LastError      string    `json:"lastError"`
	LastEvaluation time.Time `json:"lastEvaluation"`
}

// rules lists every loaded rule with its group's file.
func (p *promServer) rules(t *testing.T) map[string][]promRule {
	t.Helper()
	data, _, err := p.get("/api/v1/rules", url.Values{})
	if err != nil {
		t.Fatalf("prometheus rules: %v", err)
	}
	var d struct {
		Groups []struct {
			Name  string     `json:"name"`
			File  string     `json:"file"`
			Rules []promRule `json:"rules"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("prometheus rules: %v", err)
	}
	out := map[string][]promRule{}
	for _, g := range d.Groups {
		key := filepath.Base(g.File) + ": " + g.Name
		out[key] = append(out[key], g.Rules...)
	}
	return out
}

// firstScrape is when Prometheus first scraped the steward target.
func (p *promServer) firstScrape(t *testing.T) (time.Time, bool) {
	t.Helper()
	r, _, err := p.queryRange(`up{job="steward"} == 1`, p.started.Add(-time.Second), time.Now(), time.Second)
	if err != nil {
		t.Fatalf("prometheus: %v", err)
	}
	if len(r.Series) == 0 || len(r.Series[0].Values) == 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(r.Series[0].Values[0].T * 1000)), true
}

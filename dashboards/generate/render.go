package generate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Board is one generated dashboard with the titles of its core panels.
type Board struct {
	Dashboard dashboard.Dashboard
	// Core are the titles of the panels that must show data on a running
	// Steward with agents reporting.
	Core []string
}

// UID returns the dashboard's uid.
func (b Board) UID() string { return *b.Dashboard.Uid }

// FileName is the name of the dashboard's JSON file: its uid.
func (b Board) FileName() string { return b.UID() + ".json" }

// builders lists every dashboard, in the order of the navigation bar.
var builders = []func() (dashboard.Dashboard, []string, error){
	Fleet, Compliance, Inventory, Host, Alerts, Server, FleetProm, ComplianceProm,
}

// Boards builds every dashboard.
func Boards() ([]Board, error) {
	out := make([]Board, 0, len(builders))
	for _, build := range builders {
		d, core, err := build()
		if err != nil {
			return nil, err
		}
		out = append(out, Board{Dashboard: d, Core: core})
	}
	return out, nil
}

// Render returns each dashboard's JSON by file name.
func Render() (map[string][]byte, error) {
	boards, err := Boards()
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(boards))
	for _, b := range boards {
		data, err := Marshal(b.Dashboard)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.UID(), err)
		}
		files[b.FileName()] = data
	}
	return files, nil
}

// Marshal renders a dashboard as stable, readable JSON: keys sorted,
// two-space indentation, no HTML escaping of the SQL's < and >, and a
// trailing newline. The SDK's own encoding is decoded and encoded again
// because its nested marshallers escape HTML whatever the encoder says.
func Marshal(d dashboard.Dashboard) ([]byte, error) {
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tree); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write renders every dashboard into dir and removes the JSON files there
// that no dashboard produces any more (dir holds generated files only).
// It returns the names of the files it wrote.
func Write(dir string) ([]string, error) {
	files, err := Render()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	stale, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	for _, path := range stale {
		if _, ok := files[filepath.Base(path)]; !ok {
			if err := os.Remove(path); err != nil {
				return nil, err
			}
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// CorePanels returns, by dashboard uid, the titles of the panels that
// must show data on a running Steward (PostgreSQL store, Prometheus
// scraping it with the recording rules loaded) with a real agent and
// tens of simulated agents reporting failing policy results and some
// inventory changes, and a policy_failing alert rule notifying a webhook
// receiver. Panels that stay empty on a healthy system (dead letters,
// TLS expiry, exemptions, errors) are not listed. The host dashboard's
// core panels concern the host it opens on, the first by name.
func CorePanels() map[string][]string {
	boards, err := Boards()
	if err != nil {
		// The dashboards are fixed code: a failure is a bug the package's
		// tests catch, not a condition a caller can handle.
		panic("dashboards: " + err.Error())
	}
	out := make(map[string][]string, len(boards))
	for _, b := range boards {
		out[b.UID()] = append([]string(nil), b.Core...)
	}
	return out
}

// Titles returns every panel title of a dashboard, rows excluded.
func Titles(d dashboard.Dashboard) []string {
	var out []string
	for _, p := range d.Panels {
		if p.Panel != nil && p.Panel.Title != nil {
			out = append(out, *p.Panel.Title)
		}
	}
	return out
}

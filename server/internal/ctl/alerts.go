package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/apiclient"
	"github.com/steward-project/steward/server/internal/apitypes"
)

// alertStates and alertSeverities are what --state and --severity take.
var (
	alertStates     = []string{"open", "firing", "acknowledged", "resolved"}
	alertSeverities = []string{"info", "low", "medium", "high", "critical"}
)

// alertFilter is what `alerts list` narrows the alerts by.
type alertFilter struct {
	state, severity, rule string
	host                  int64
	all                   bool
}

// query turns the filter into the API's parameters: open alerts unless
// --state or --all says otherwise.
func (f alertFilter) query(limit int) (url.Values, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if f.all && f.state != "" {
		return nil, &usageError{msg: "give --state or --all, not both"}
	}
	if f.state != "" && !slices.Contains(alertStates, f.state) {
		return nil, &usageError{msg: fmt.Sprintf("--state %q: want one of %s", f.state, strings.Join(alertStates, ", "))}
	}
	if f.severity != "" && !slices.Contains(alertSeverities, f.severity) {
		return nil, &usageError{msg: fmt.Sprintf("--severity %q: want one of %s", f.severity, strings.Join(alertSeverities, ", "))}
	}
	if f.host < 0 {
		return nil, &usageError{msg: fmt.Sprintf("--host %d is not a positive integer", f.host)}
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	switch {
	case f.state != "":
		q.Set("state", f.state)
	case !f.all:
		q.Set("state", "open")
	}
	for k, v := range map[string]string{"severity": f.severity, "rule": f.rule} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.host > 0 {
		q.Set("host_id", strconv.FormatInt(f.host, 10))
	}
	return q, nil
}

func alertsList(ctx context.Context, s *session, f alertFilter, limit int) error {
	q, err := f.query(limit)
	if err != nil {
		return err
	}
	items, err := collectPages(ctx, s.client, "/api/v1/alerts", q, "alerts")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Alerts []json.RawMessage `json:"alerts"`
		}{items})
	}
	alerts, err := decodeAll[apitypes.Alert](items)
	if err != nil {
		return err
	}
	now := s.now()
	tw := newTable(s.out)
	tw.row("ID", "STATE", "SEVERITY", "RULE", "HOST", "SUBJECT", "STARTED", "AGE/RESOLVED")
	for _, a := range alerts {
		tw.row(a.ID, alertState(a), a.Severity, a.Rule, alertHost(a),
			cell(a.Subject), timeCell(a.StartedAt, "-"), alertAge(a, now))
	}
	return tw.Flush()
}

// alertState marks an alert a silence or maintenance window holds back.
func alertState(a apitypes.Alert) string {
	if a.Muted {
		return a.State + " (muted)"
	}
	return a.State
}

// alertHost names the host by its hostname label and id.
func alertHost(a apitypes.Alert) string {
	id := strconv.FormatInt(a.HostID, 10)
	if name := a.Labels["hostname"]; name != "" {
		return name + " (" + id + ")"
	}
	return "host " + id
}

// alertAge is how long an open alert has been open, or when a resolved
// one resolved.
func alertAge(a apitypes.Alert, now time.Time) string {
	if a.State == "resolved" {
		return timeCell(a.ResolvedAt, "-")
	}
	return shortDuration(now.Sub(a.StartedAt))
}

// shortDuration writes d in its two largest units: 45s, 12m, 5h3m, 3d4h.
func shortDuration(d time.Duration) string {
	d = max(d, 0).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// parseID reads a positive integer ID argument.
func parseID(what, arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return 0, &usageError{msg: fmt.Sprintf("%s ID %q is not a positive integer", what, arg)}
	}
	return id, nil
}

func alertsShow(ctx context.Context, s *session, arg string) error {
	id, err := parseID("alert", arg)
	if err != nil {
		return err
	}
	raw, err := s.client.Get(ctx, "/api/v1/alerts/"+strconv.FormatInt(id, 10), nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var a apitypes.AlertDetail
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("decode alert: %w", err)
	}
	return printAlert(s.out, a, s.now())
}

func printAlert(w io.Writer, a apitypes.AlertDetail, now time.Time) error {
	tw := newTable(w)
	row := func(k, v string) { tw.kv(k, v) }
	row("ID", strconv.FormatInt(a.ID, 10))
	row("Dedup key", a.DedupKey)
	row("Rule", a.Rule)
	row("Host", alertHost(a.Alert))
	row("Subject", cell(a.Subject))
	row("Severity", a.Severity)
	row("State", alertState(a.Alert))
	row("Started", timeCell(a.StartedAt, "-")+" ("+shortDuration(now.Sub(a.StartedAt))+" ago)")
	if !a.AckedAt.IsZero() {
		ack := timeCell(a.AckedAt, "-") + " by " + cell(a.AckedBy)
		if a.AckComment != "" {
			ack += ": " + oneLine(a.AckComment)
		}
		row("Acknowledged", ack)
	}
	if !a.ResolvedAt.IsZero() {
		row("Resolved", timeCell(a.ResolvedAt, "-"))
	}
	row("Notified", yesNo(a.Notified))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, m := range []struct {
		title string
		kv    map[string]string
		sep   string
	}{{"Labels", a.Labels, "="}, {"Annotations", a.Annotations, ": "}} {
		fmt.Fprintf(w, "\n%s:\n", m.title)
		if len(m.kv) == 0 {
			fmt.Fprintln(w, "  -")
		}
		keys := make([]string, 0, len(m.kv))
		for k := range m.kv {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			// Evidence runs over several lines; keep them under their key,
			// each line escaped on its own.
			lines := strings.Split(strings.TrimRight(m.kv[k], "\n"), "\n")
			for i, l := range lines {
				lines[i] = escapeText(l, false)
			}
			fmt.Fprintf(w, "  %s%s%s\n", escapeText(k, false), m.sep, strings.Join(lines, "\n    "))
		}
	}
	fmt.Fprint(w, "\nNotifications:\n")
	if len(a.Notifications) == 0 {
		_, err := fmt.Fprintln(w, "  none")
		return err
	}
	tw = newTable(w)
	tw.row("ID", "RECEIVER", "EVENT", "STATE", "ATTEMPTS", "AT", "LAST ERROR")
	for _, n := range a.Notifications {
		tw.row(n.ID, n.Receiver, n.Event, n.State, n.Attempts,
			timeCell(n.At, "-"), cell(oneLine(n.LastError)))
	}
	return tw.Flush()
}

// oneLine folds text onto one line for a table cell.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func alertsAck(ctx context.Context, s *session, arg, comment string) error {
	id, err := parseID("alert", arg)
	if err != nil {
		return err
	}
	raw, err := s.client.Do(ctx, http.MethodPost, "/api/v1/alerts/"+strconv.FormatInt(id, 10)+"/ack", nil, apitypes.AlertAck{Comment: comment})
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var a apitypes.Alert
	if err := json.Unmarshal(raw, &a); err != nil {
		return fmt.Errorf("decode alert: %w", err)
	}
	// A second ack keeps the first, so this says who acknowledged it.
	said := ""
	if a.AckComment != "" {
		said = ": " + oneLine(a.AckComment)
	}
	return printf(s.out, "Alert %d (%s on %s) acknowledged by %s at %s%s.\n", a.ID, a.Rule, alertHost(a), a.AckedBy,
		timeCell(a.AckedAt, "-"), said)
}

// reloadRefused is a refused reload whose problems were printed already.
type reloadRefused struct{ problems int }

func (e *reloadRefused) Error() string {
	return fmt.Sprintf("%d problem(s); the alerting configuration in force stays", e.problems)
}

// alertingReload asks the server to read its alerting configuration
// again; a refusal prints every problem as FILE:LINE: message.
func alertingReload(ctx context.Context, s *session) error {
	raw, err := s.client.Do(ctx, http.MethodPost, "/api/v1/alerting/reload", nil, nil)
	var se *apiclient.StatusError
	if errors.As(err, &se) && se.Status == http.StatusBadRequest && se.Body != nil {
		var refused apitypes.ReloadError
		if json.Unmarshal(se.Body, &refused) == nil && len(refused.Problems) > 0 {
			for _, p := range refused.Problems {
				printf(s.errOut, "%s\n", p)
			}
			return &reloadRefused{problems: len(refused.Problems)}
		}
	}
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var res struct {
		Summary json.RawMessage `json:"summary"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	fmt.Fprintln(s.out, "Alerting configuration reloaded.")
	var fields map[string]json.RawMessage
	if json.Unmarshal(res.Summary, &fields) != nil {
		if len(res.Summary) > 0 && string(res.Summary) != "null" {
			err = printf(s.out, "Summary: %s\n", string(res.Summary))
		}
		return err
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	tw := newTable(s.out)
	for _, k := range keys {
		v := string(fields[k])
		var str string
		if json.Unmarshal(fields[k], &str) == nil {
			v = str
		}
		tw.kv("  "+capitalize(strings.ReplaceAll(escapeText(k, false), "_", " ")), v)
	}
	return tw.Flush()
}

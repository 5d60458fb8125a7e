package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Report is what a run measured. Durations are seconds, latencies
// milliseconds, sizes bytes; the field names say which.
type Report struct {
	RunID       string        `json:"run_id"`
	Server      string        `json:"server"`
	StartedAt   time.Time     `json:"started_at"`
	Settings    Settings      `json:"settings"`
	Interrupted bool          `json:"interrupted"`
	Enroll      EnrollReport  `json:"enroll"`
	Connect     ConnectReport `json:"connect"`
	Steady      SteadyReport  `json:"steady"`
	// Results and Alerts are there only with --results and
	// --alert-receiver.
	Results    *ResultsReport `json:"results,omitempty"`
	Alerts     *AlertsReport  `json:"alerts,omitempty"`
	Client     ClientReport   `json:"client"`
	ServerSide ServerReport   `json:"server_metrics"`
	Warnings   []string       `json:"warnings,omitempty"`
	// Failed is true when any agent failed to enroll or connect, lost its
	// connection, got an error frame, or had a message left unacknowledged.
	Failed   bool     `json:"failed"`
	Problems []string `json:"problems,omitempty"`
}

// Settings echoes the run's configuration.
type Settings struct {
	Agents                int      `json:"agents"`
	Packages              int      `json:"packages"`
	DurationSeconds       float64  `json:"duration_seconds"`
	HeartbeatSeconds      float64  `json:"heartbeat_seconds"`
	InventoryEverySeconds float64  `json:"inventory_every_seconds"`
	Concurrency           int      `json:"concurrency"`
	SourceIPs             []string `json:"source_ips,omitempty"`
	StateFile             string   `json:"state_file,omitempty"`
	Results               string   `json:"results"`
	AlertReceiver         string   `json:"alert_receiver,omitempty"`
	NoCompression         bool     `json:"no_compression,omitempty"`
}

// EnrollReport covers POST /agent/v1/enroll.
type EnrollReport struct {
	Attempted       int            `json:"attempted"`
	Enrolled        int            `json:"enrolled"`
	Reused          int            `json:"reused"` // node keys taken from the state file
	Failures        map[string]int `json:"failures"`
	DurationSeconds float64        `json:"duration_seconds"`
	PerSecond       float64        `json:"per_second"`
	Latency         Latency        `json:"latency"`
}

// ConnectReport covers dial, hello/welcome and the first, full inventory.
type ConnectReport struct {
	Attempted        int            `json:"attempted"`
	Connected        int            `json:"connected"` // welcomed
	InventoriesAcked int            `json:"inventories_acked"`
	Failures         map[string]int `json:"failures"`
	// DurationSeconds runs until every agent's full inventory was acked
	// (or it failed): the time the server took to absorb the storm.
	DurationSeconds     float64 `json:"duration_seconds"`
	Handshake           Latency `json:"handshake"` // dial to welcome
	FirstAck            Latency `json:"first_ack"` // dial to the inventory's ack
	InventoryBytesAvg   int64   `json:"inventory_bytes_avg"`
	InventoryBytesTotal int64   `json:"inventory_bytes_total"`
}

// SteadyReport covers heartbeats and unchanged inventories.
type SteadyReport struct {
	DurationSeconds float64 `json:"duration_seconds"`
	// WarmupSeconds went before DurationSeconds: what was sent in it
	// counts in Sent, Acked and LatencyByWindow, not in Latency or
	// AckedPerSecond.
	WarmupSeconds float64 `json:"warmup_seconds,omitempty"`
	// MeasuredFromSeconds is when the warm-up ended, on the clock of
	// LatencyByWindow: windows from before it hold warm-up sends.
	MeasuredFromSeconds float64 `json:"measured_from_seconds,omitempty"`
	// LingerSeconds came after DurationSeconds: what was sent in it
	// counts in Sent, Acked and LatencyByWindow, not in Latency or
	// AckedPerSecond.
	LingerSeconds float64 `json:"linger_seconds,omitempty"`
	Sent          int64   `json:"sent"`
	Acked         int64   `json:"acked"`
	// AckedPerSecond counts acks received within the steady window.
	AckedPerSecond float64 `json:"acked_per_second"`
	Unacked        int64   `json:"unacked"`
	// Skipped messages were due while an agent had maxPending messages
	// unacknowledged or had fallen a whole interval behind.
	Skipped          int64   `json:"skipped"`
	Resyncs          int64   `json:"resyncs"`
	UnexpectedFrames int64   `json:"unexpected_frames"`
	Latency          Latency `json:"latency"` // send to ack
	// LatencyByWindow is Latency per 5 s of send time, to read what a
	// burst of policy applies did to heartbeats while it lasted.
	LatencyByWindow []WindowLatency `json:"latency_by_window,omitempty"`
	ErrorFrames     map[string]int  `json:"error_frames"`
	Disconnects     int64           `json:"disconnects"`
	ConnectedAtEnd  int64           `json:"connected_at_end"`
	// PolicySets lists each policy set revision the server pushed during
	// the run: apply a policy while loadgen runs to measure how long it
	// takes to reach every agent.
	PolicySets []PolicySetReceipt `json:"policy_sets,omitempty"`
	CheckNows  int64              `json:"check_nows,omitempty"`
}

// PolicySetReceipt is one policy set revision as the simulated agents
// received it, with times in seconds since the run started.
type PolicySetReceipt struct {
	Revision       uint64  `json:"revision"`
	Agents         int64   `json:"agents"`
	FirstAtSeconds float64 `json:"first_at_seconds"`
	LastAtSeconds  float64 `json:"last_at_seconds"`
}

// ResultsReport covers the policy results the agents sent in answer to
// policy sets (--results).
type ResultsReport struct {
	Status   string `json:"status"`   // the status every result had
	Messages int64  `json:"messages"` // results messages sent
	Results  int64  `json:"results"`  // policy results in them
	Acked    int64  `json:"acked"`
	Unacked  int64  `json:"unacked"`
	// Latency is send to ack: the server acknowledges results once it
	// committed them.
	Latency Latency `json:"latency"`
	// FirstSentAtSeconds and LastSentAtSeconds are since the run started.
	FirstSentAtSeconds float64 `json:"first_sent_at_seconds"`
	LastSentAtSeconds  float64 `json:"last_sent_at_seconds"`
}

// AlertsReport is what the webhook receiver got (--alert-receiver).
type AlertsReport struct {
	Receiver         string `json:"receiver"` // the address it listened on
	SignatureChecked bool   `json:"signature_checked"`
	Error            string `json:"error,omitempty"` // the receiver stopped serving
	// Deliveries counts accepted POSTs, Events the distinct notifications
	// among them by event, Triggers the distinct trigger notifications.
	Deliveries int64          `json:"deliveries"`
	Events     map[string]int `json:"events"`
	Triggers   int64          `json:"triggers"`
	// Unmatched triggers name no host and policy this run sent a result
	// for; Duplicates are deliveries of a notification id seen before;
	// Retriggers are triggers with a new id for a result that already had
	// one (a second page for one problem, unless it resolved between).
	Unmatched  int64 `json:"unmatched"`
	Duplicates int64 `json:"duplicates"`
	Retriggers int64 `json:"retriggers"`
	// BadSignature and Malformed deliveries were refused (401, 400).
	BadSignature int64 `json:"bad_signature"`
	Malformed    int64 `json:"malformed"`
	// MaxInFlight is the most deliveries the receiver handled at once;
	// the server's delivery.per_receiver is meant to bound it.
	MaxInFlight int64 `json:"max_in_flight"`
	// WithoutTrigger counts failing results (agent and policy) no trigger
	// arrived for; only with --results fail.
	WithoutTrigger int64 `json:"without_trigger"`
	// Latency is the result's send to its trigger's arrival, one sample
	// per matched trigger.
	Latency               Latency `json:"latency"`
	FirstTriggerAtSeconds float64 `json:"first_trigger_at_seconds"`
	LastTriggerAtSeconds  float64 `json:"last_trigger_at_seconds"`
	// FirstResultsToLastTriggerSeconds is how long the whole burst took:
	// from the first results sent to the last trigger received.
	FirstResultsToLastTriggerSeconds float64 `json:"first_results_to_last_trigger_seconds"`
}

// Latency summarizes a histogram, in milliseconds.
type Latency struct {
	Count  uint64  `json:"count"`
	P50Ms  float64 `json:"p50_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// ClientReport is the load generator's own footprint and limits.
type ClientReport struct {
	RSSBytes         uint64  `json:"rss_bytes"`
	PeakRSSBytes     uint64  `json:"peak_rss_bytes"`
	RSSPerAgentBytes float64 `json:"rss_per_agent_bytes"`
	OpenFilesLimit   uint64  `json:"open_files_limit"`
	OpenFilesHard    uint64  `json:"open_files_hard_limit"`
	EphemeralPorts   int     `json:"ephemeral_ports"`
	// Inflations counts the large compressed messages (policy sets) the
	// generator inflated, InflateCacheHits the copies it took from its
	// shared cache instead: one inflation per distinct set is the aim.
	Inflations       int64 `json:"inflations,omitempty"`
	InflateCacheHits int64 `json:"inflate_cache_hits,omitempty"`
}

// ServerReport is scraped from the server's /metrics at the end of the
// steady phase, before any connection closes.
type ServerReport struct {
	Scraped          bool    `json:"scraped"`
	Error            string  `json:"error,omitempty"`
	RSSBytes         float64 `json:"rss_bytes"`
	AgentsConnected  float64 `json:"agents_connected"`
	RSSPerAgentBytes float64 `json:"rss_per_agent_bytes"`
	// IngestCommitted and IngestP99Seconds come from the difference of
	// steward_ingest_duration_seconds between the steady phase's start and
	// end: messages committed, and the upper bound of the bucket holding
	// their 99th percentile receive-to-commit time (-1: above the largest
	// bucket).
	IngestCommitted  float64 `json:"ingest_committed"`
	IngestP99Seconds float64 `json:"ingest_p99_seconds"`
	// TriggersDelivered and the TriggerDelay quantiles come likewise from
	// steward_notification_delay_seconds{event="trigger"}: outbox row
	// written to delivered, the delivery part of result-to-notification
	// latency (bucket upper bounds; -1: above the largest bucket).
	TriggersDelivered      float64 `json:"triggers_delivered,omitempty"`
	TriggerDelayP50Seconds float64 `json:"trigger_delay_p50_seconds,omitempty"`
	TriggerDelayP99Seconds float64 `json:"trigger_delay_p99_seconds,omitempty"`
}

// newReport starts the report of a run whose clock started at base: the
// report's times in seconds count from StartedAt, kept to the
// millisecond so that they line up with other clocks (an apply's).
func newReport(cfg Config, base time.Time) *Report {
	rep := &Report{
		RunID:     cfg.RunID,
		Server:    cfg.Server,
		StartedAt: base.UTC().Truncate(time.Millisecond),
		Settings: Settings{
			Agents:                cfg.Agents,
			Packages:              cfg.Packages,
			DurationSeconds:       cfg.Duration.Seconds(),
			HeartbeatSeconds:      cfg.Heartbeat.Seconds(),
			InventoryEverySeconds: cfg.InventoryEvery.Seconds(),
			Concurrency:           cfg.Concurrency,
			StateFile:             cfg.StateFile,
			Results:               cfg.Results,
			AlertReceiver:         cfg.AlertReceiver,
			NoCompression:         cfg.NoCompression,
		},
		Enroll:  EnrollReport{Failures: map[string]int{}},
		Connect: ConnectReport{Failures: map[string]int{}},
		Steady:  SteadyReport{ErrorFrames: map[string]int{}},
	}
	for _, ip := range cfg.SourceIPs {
		rep.Settings.SourceIPs = append(rep.Settings.SourceIPs, ip.String())
	}
	return rep
}

func (rep *Report) warn(format string, args ...any) {
	rep.Warnings = append(rep.Warnings, fmt.Sprintf(format, args...))
}

// finish decides whether the run failed and lists why.
func (rep *Report) finish(interrupted bool) {
	rep.Interrupted = interrupted
	var p []string
	if n := sum(rep.Enroll.Failures); n > 0 {
		p = append(p, fmt.Sprintf("%d enrollments failed (%s)", n, reasons(rep.Enroll.Failures)))
	}
	if n := sum(rep.Connect.Failures); n > 0 {
		p = append(p, fmt.Sprintf("%d agents failed to connect or have their inventory acked (%s)", n, reasons(rep.Connect.Failures)))
	}
	if n := sum(rep.Steady.ErrorFrames); n > 0 {
		p = append(p, fmt.Sprintf("%d error frames (%s)", n, reasons(rep.Steady.ErrorFrames)))
	}
	if n := rep.Steady.Disconnects; n > 0 {
		p = append(p, fmt.Sprintf("%d connections dropped", n))
	}
	if n := rep.Steady.Unacked; n > 0 {
		p = append(p, fmt.Sprintf("%d messages never acknowledged", n))
	}
	if n := rep.Steady.UnexpectedFrames; n > 0 {
		p = append(p, fmt.Sprintf("%d unexpected frames (acks of no message in flight, or unknown frames)", n))
	}
	if res := rep.Results; res != nil && res.Unacked > 0 {
		p = append(p, fmt.Sprintf("%d results messages never acknowledged", res.Unacked))
	}
	if a := rep.Alerts; a != nil {
		if a.BadSignature > 0 {
			p = append(p, fmt.Sprintf("%d webhook deliveries with a bad signature", a.BadSignature))
		}
		if a.Malformed > 0 {
			p = append(p, fmt.Sprintf("%d webhook deliveries that were not steward notifications", a.Malformed))
		}
		if a.Error != "" {
			p = append(p, "alert receiver: "+a.Error)
		}
		if a.Unmatched > 0 {
			rep.warn("%d trigger notifications matched no result this run sent (hostname and policy labels)", a.Unmatched)
		}
		if a.Duplicates > 0 {
			rep.warn("%d webhook deliveries repeated a notification id", a.Duplicates)
		}
		if a.Retriggers > 0 {
			rep.warn("%d trigger notifications with a new id for a result that already had one", a.Retriggers)
		}
		if a.WithoutTrigger > 0 {
			rep.warn("%d failing results got no trigger notification before the end (a rule filtered them, the alert was already open, or the run ended too soon)", a.WithoutTrigger)
		}
	}
	rep.Problems = p
	rep.Failed = len(p) > 0
}

func reasons(m map[string]int) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// WriteText writes the report for people.
func (rep *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	s := rep.Settings
	fmt.Fprintf(&b, "steward-loadgen run %s against %s\n", rep.RunID, rep.Server)
	fmt.Fprintf(&b, "  %d agents, %d packages each, heartbeat %s, inventory every %s, steady %s, concurrency %d\n",
		s.Agents, s.Packages, secs(s.HeartbeatSeconds), orOff(s.InventoryEverySeconds), secs(s.DurationSeconds), s.Concurrency)
	if s.Results != "" && s.Results != ResultsNone || s.AlertReceiver != "" {
		fmt.Fprintf(&b, "  results %s", orNone(s.Results))
		if s.AlertReceiver != "" {
			fmt.Fprintf(&b, ", alert receiver on %s", s.AlertReceiver)
		}
		b.WriteString("\n")
	}
	if rep.Interrupted {
		b.WriteString("  interrupted before the end\n")
	}

	e := rep.Enroll
	fmt.Fprintf(&b, "\nenroll    %d attempted, %d enrolled, %d reused from state, %d failed",
		e.Attempted, e.Enrolled, e.Reused, sum(e.Failures))
	if e.Attempted > 0 {
		fmt.Fprintf(&b, " in %s (%.1f/s)\n", secs(e.DurationSeconds), e.PerSecond)
		fmt.Fprintf(&b, "          latency %s\n", e.Latency)
	} else {
		b.WriteString("\n")
	}
	failureLines(&b, e.Failures)

	c := rep.Connect
	fmt.Fprintf(&b, "\nconnect   %d attempted, %d welcomed, %d full inventories acked, %d failed; absorbed in %s\n",
		c.Attempted, c.Connected, c.InventoriesAcked, sum(c.Failures), secs(c.DurationSeconds))
	if c.Attempted > 0 {
		fmt.Fprintf(&b, "          handshake %s\n", c.Handshake)
		fmt.Fprintf(&b, "          first ack %s\n", c.FirstAck)
		fmt.Fprintf(&b, "          inventory %s average, %s sent\n", bytesIEC(float64(c.InventoryBytesAvg)), bytesIEC(float64(c.InventoryBytesTotal)))
	}
	failureLines(&b, c.Failures)

	st := rep.Steady
	if st.DurationSeconds > 0 {
		fmt.Fprintf(&b, "\nsteady    %s: %d sent, %d acked (%.1f/s), %d unacked, %d skipped, %d resyncs\n",
			secs(st.DurationSeconds), st.Sent, st.Acked, st.AckedPerSecond, st.Unacked, st.Skipped, st.Resyncs)
		if st.WarmupSeconds > 0 {
			fmt.Fprintf(&b, "          after a %s warm-up, which the rate and latency leave out\n", secs(st.WarmupSeconds))
		}
		if st.LingerSeconds > 0 {
			fmt.Fprintf(&b, "          then %s more, sending, which the rate and latency leave out\n", secs(st.LingerSeconds))
		}
		fmt.Fprintf(&b, "          latency %s\n", st.Latency)
		if w, ok := worstWindow(st.LatencyByWindow, st.MeasuredFromSeconds); ok {
			fmt.Fprintf(&b, "          worst measured 5 s of sends: p99 %.1fms, max %.1fms (%d messages from %.0fs)\n", w.P99Ms, w.MaxMs, w.Count, w.FromSeconds)
		}
		fmt.Fprintf(&b, "          %d error frames, %d disconnects, %d unexpected frames, %d connected at the end\n",
			sum(st.ErrorFrames), st.Disconnects, st.UnexpectedFrames, st.ConnectedAtEnd)
		for _, p := range st.PolicySets {
			fmt.Fprintf(&b, "          policy set revision %d reached %d agents between %.3fs and %.3fs (spread %.3fs)\n",
				p.Revision, p.Agents, p.FirstAtSeconds, p.LastAtSeconds, p.LastAtSeconds-p.FirstAtSeconds)
		}
		failureLines(&b, st.ErrorFrames)
	}

	if res := rep.Results; res != nil {
		fmt.Fprintf(&b, "\nresults   %s: %d messages with %d results sent, %d acked, %d unacked",
			res.Status, res.Messages, res.Results, res.Acked, res.Unacked)
		if res.Messages > 0 {
			fmt.Fprintf(&b, "; first sent at %s, last at %s\n", secs(res.FirstSentAtSeconds), secs(res.LastSentAtSeconds))
			fmt.Fprintf(&b, "          send to ack %s\n", res.Latency)
		} else {
			b.WriteString(" (no policy set arrived)\n")
		}
	}
	if a := rep.Alerts; a != nil {
		check := "signatures not checked"
		if a.SignatureChecked {
			check = "signatures checked"
		}
		fmt.Fprintf(&b, "\nalerts    webhook on %s (%s): %d deliveries, %d triggers, %d unmatched, %d duplicates, %d retriggers\n",
			a.Receiver, check, a.Deliveries, a.Triggers, a.Unmatched, a.Duplicates, a.Retriggers)
		fmt.Fprintf(&b, "          result to trigger %s\n", a.Latency)
		fmt.Fprintf(&b, "          at most %d deliveries in flight at once\n", a.MaxInFlight)
		if a.Triggers > 0 {
			fmt.Fprintf(&b, "          triggers arrived between %s and %s; first results sent to last trigger %s\n",
				secs(a.FirstTriggerAtSeconds), secs(a.LastTriggerAtSeconds), secs(a.FirstResultsToLastTriggerSeconds))
		}
		if a.WithoutTrigger > 0 {
			fmt.Fprintf(&b, "          %d failing results without a trigger\n", a.WithoutTrigger)
		}
		if a.BadSignature > 0 || a.Malformed > 0 {
			fmt.Fprintf(&b, "          refused: %d bad signatures, %d malformed\n", a.BadSignature, a.Malformed)
		}
		for _, ev := range slices.Sorted(maps.Keys(a.Events)) {
			if ev != "trigger" {
				fmt.Fprintf(&b, "          %6d  %s\n", a.Events[ev], ev)
			}
		}
	}

	cl := rep.Client
	fmt.Fprintf(&b, "\nclient    RSS %s (peak %s)", bytesIEC(float64(cl.RSSBytes)), bytesIEC(float64(cl.PeakRSSBytes)))
	if cl.RSSPerAgentBytes > 0 {
		fmt.Fprintf(&b, ", %s per agent", bytesIEC(cl.RSSPerAgentBytes))
	}
	fmt.Fprintf(&b, "; open files limit %d (hard %d)\n", cl.OpenFilesLimit, cl.OpenFilesHard)
	if cl.Inflations > 0 || cl.InflateCacheHits > 0 {
		fmt.Fprintf(&b, "          large compressed frames: %d inflated, %d from the shared inflate cache\n", cl.Inflations, cl.InflateCacheHits)
	}
	sv := rep.ServerSide
	switch {
	case sv.Scraped:
		fmt.Fprintf(&b, "server    RSS %s, %.0f agents connected", bytesIEC(sv.RSSBytes), sv.AgentsConnected)
		if sv.RSSPerAgentBytes > 0 {
			fmt.Fprintf(&b, ", %s per connected agent", bytesIEC(sv.RSSPerAgentBytes))
		}
		b.WriteString("\n")
		switch {
		case sv.IngestCommitted > 0 && sv.IngestP99Seconds < 0:
			fmt.Fprintf(&b, "          ingest: %.0f committed in the steady phase, p99 receive-to-commit above the largest bucket\n", sv.IngestCommitted)
		case sv.IngestCommitted > 0:
			fmt.Fprintf(&b, "          ingest: %.0f committed in the steady phase, p99 receive-to-commit <= %s\n", sv.IngestCommitted, secs(sv.IngestP99Seconds))
		}
		if sv.TriggersDelivered > 0 {
			fmt.Fprintf(&b, "          notifications: %.0f triggers delivered in the steady phase, outbox-to-delivery p50 %s, p99 %s\n",
				sv.TriggersDelivered, bucketBound(sv.TriggerDelayP50Seconds), bucketBound(sv.TriggerDelayP99Seconds))
		}
	case sv.Error != "":
		fmt.Fprintf(&b, "server    metrics not available: %s\n", sv.Error)
	}

	for _, wn := range rep.Warnings {
		fmt.Fprintf(&b, "warning   %s\n", wn)
	}
	if rep.Failed {
		b.WriteString("\nresult    FAILED\n")
		for _, p := range rep.Problems {
			fmt.Fprintf(&b, "          %s\n", p)
		}
	} else {
		b.WriteString("\nresult    OK\n")
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// String formats the summary for the text report.
func (l Latency) String() string {
	if l.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p95 %s  p99 %s  max %s  mean %s  (%d samples)",
		ms(l.P50Ms), ms(l.P95Ms), ms(l.P99Ms), ms(l.MaxMs), ms(l.MeanMs), l.Count)
}

func failureLines(b *strings.Builder, m map[string]int) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(b, "          %6d  %s\n", m[k], k)
	}
}

func ms(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.0fms", v)
}

func secs(v float64) string {
	return time.Duration(v * float64(time.Second)).Round(time.Millisecond).String()
}

// bucketBound writes a histogram quantile read as its bucket's bound.
func bucketBound(v float64) string {
	if v < 0 {
		return "above the largest bucket"
	}
	return "<= " + secs(v)
}

func orNone(s string) string {
	if s == "" {
		return ResultsNone
	}
	return s
}

func orOff(v float64) string {
	if v == 0 {
		return "off"
	}
	return secs(v)
}

func bytesIEC(v float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// worstWindow is the window with the highest p99 among those that begin
// at or after from, when the warm-up ended: a window of warm-up sends is
// not part of what the phase measured. False: fewer than two such
// windows, where it would only repeat the phase's latency.
func worstWindow(ws []WindowLatency, from float64) (WindowLatency, bool) {
	var w WindowLatency
	n := 0
	for _, x := range ws {
		if x.FromSeconds < from {
			continue
		}
		if n == 0 || x.P99Ms > w.P99Ms {
			w = x
		}
		n++
	}
	return w, n >= 2
}

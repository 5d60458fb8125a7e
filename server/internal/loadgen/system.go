package loadgen

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"time"
)

// fdHeadroom is what the process needs besides one descriptor per agent:
// enrollment connections, the metrics scrape, the runtime's own.
const fdHeadroom = 64

// checkLimits raises the open files limit and warns about limits that
// will make agents fail before the server does.
func (r *runner) checkLimits(rep *Report) {
	soft, hard, err := raiseOpenFiles()
	rep.Client.OpenFilesLimit, rep.Client.OpenFilesHard = soft, hard
	need := uint64(r.cfg.Agents + r.cfg.Concurrency + fdHeadroom)
	switch {
	case err != nil:
		rep.warn("could not raise the open files limit: %v", err)
	case soft > 0 && soft < need:
		rep.warn("open files limit is %d (hard limit %d) but %d agents need about %d; raise the hard limit (ulimit -Hn, LimitNOFILE=) or run fewer agents",
			soft, hard, r.cfg.Agents, need)
	}
	ports := ephemeralPorts("/proc/sys/net/ipv4/ip_local_port_range")
	rep.Client.EphemeralPorts = ports
	sources := max(1, len(r.cfg.SourceIPs))
	if ports > 0 && r.cfg.Agents > ports*sources {
		rep.warn("%d agents but only %d ephemeral ports per source address and %d source address(es): connections beyond that fail; add --source-ips (e.g. 127.0.0.1,127.0.0.2 on loopback) or widen net.ipv4.ip_local_port_range",
			r.cfg.Agents, ports, sources)
	}
}

// ephemeralPorts reads Linux's local port range; 0 where there is none.
func ephemeralPorts(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || hi < lo {
		return 0
	}
	return hi - lo + 1
}

// measure fills the client's memory and the server's scraped metrics;
// before is the server's metrics at the steady phase's start (nil when not
// read), for what changed over it.
func (r *runner) measure(rep *Report, before samples) {
	rss, peak := processMemory("/proc/self/status")
	rep.Client.RSSBytes, rep.Client.PeakRSSBytes = rss, peak
	if n := rep.Steady.ConnectedAtEnd; n > 0 && rss > 0 {
		rep.Client.RSSPerAgentBytes = round(float64(rss)/float64(n), 0)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sv := &rep.ServerSide
	m, err := r.scrape(ctx)
	if err == nil {
		err = m.need(metricRSS, metricConnected)
	}
	if err != nil {
		sv.Error = err.Error()
		return
	}
	sv.Scraped = true
	sv.RSSBytes = m[metricRSS]
	sv.AgentsConnected = m[metricConnected]
	if sv.AgentsConnected > 0 {
		sv.RSSPerAgentBytes = round(sv.RSSBytes/sv.AgentsConnected, 0)
	}
	if d := delta(before, m, metricIngest, ""); d != nil {
		sv.IngestCommitted = d.count
		sv.IngestP99Seconds = d.quantile(0.99)
	}
	if d := delta(before, m, metricNotificationDelay, `event="trigger"`); d != nil && d.count > 0 {
		sv.TriggersDelivered = d.count
		sv.TriggerDelayP50Seconds = d.quantile(0.50)
		sv.TriggerDelayP99Seconds = d.quantile(0.99)
	}
}

// delta is histogram name (with labels, `a="b"`, or none) as observed
// between before and after, or nil when either lacks it.
func delta(before, after samples, name, labels string) *bucketCounts {
	if before == nil {
		return nil
	}
	b, a := before.buckets(name, labels), after.buckets(name, labels)
	if a == nil {
		return nil
	}
	if b == nil {
		// A labelled series appears with its first observation: nothing
		// was observed before.
		if labels == "" {
			return nil
		}
		b = &bucketCounts{le: a.le, counts: make([]float64, len(a.counts))}
	}
	return a.minus(b)
}

// processMemory reads VmRSS and VmHWM (peak) from a /proc status file, in
// bytes; zeros where the file does not exist (not Linux).
func processMemory(path string) (rss, peak uint64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			continue
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak
}

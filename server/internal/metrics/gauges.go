package metrics

import (
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// GaugeValues is the next content of a gauge vector, keyed by its label
// set rendered as sorted name=value pairs.
type GaugeValues map[string]gaugeValue

type gaugeValue struct {
	labels prometheus.Labels
	value  float64
}

// Add adds n to the series with these label name/value pairs.
func (g GaugeValues) Add(n int64, pairs ...string) {
	k, l := labelKey(pairs...)
	v := g[k]
	v.labels, v.value = l, v.value+float64(n)
	g[k] = v
}

// Set gives the series with these label name/value pairs value x.
func (g GaugeValues) Set(x float64, pairs ...string) {
	k, l := labelKey(pairs...)
	g[k] = gaugeValue{labels: l, value: x}
}

// Replace makes vec hold exactly g: each series is set to its new value,
// then series g no longer has are deleted. A scrape running meanwhile
// sees each series at its old or its new value, never an emptied vector
// (as Reset followed by refilling would show it).
func (g GaugeValues) Replace(vec *prometheus.GaugeVec) {
	for _, v := range g {
		vec.With(v.labels).Set(v.value)
	}
	ch := make(chan prometheus.Metric)
	go func() {
		vec.Collect(ch)
		close(ch)
	}()
	var stale []prometheus.Labels
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			continue
		}
		pairs := make([]string, 0, 2*len(d.Label))
		for _, lp := range d.Label {
			pairs = append(pairs, lp.GetName(), lp.GetValue())
		}
		if k, l := labelKey(pairs...); g[k].labels == nil {
			stale = append(stale, l)
		}
	}
	for _, l := range stale {
		vec.Delete(l)
	}
}

// labelKey renders name/value pairs as a key independent of their order,
// and as prometheus.Labels.
func labelKey(pairs ...string) (string, prometheus.Labels) {
	l := make(prometheus.Labels, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		l[pairs[i]] = pairs[i+1]
	}
	names := slices.Sorted(maps.Keys(l))
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(0)
		b.WriteString(l[n])
		b.WriteByte(0)
	}
	return b.String(), l
}

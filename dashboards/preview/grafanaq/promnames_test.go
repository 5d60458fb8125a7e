package grafanaq

import (
	"reflect"
	"testing"
)

func TestMetricNames(t *testing.T) {
	cases := map[string][]string{
		`up`: {"up"},
		`max by (os, online) (steward_hosts{online="true"})`:                                          {"steward_hosts"},
		`sum(rate(steward_agent_messages_received_total{type=~"inventory|heartbeat"}[5m])) by (type)`: {"steward_agent_messages_received_total"},
		`histogram_quantile(0.99, sum by (le) (rate(steward_ingest_duration_seconds_bucket[1m])))`:    {"steward_ingest_duration_seconds_bucket"},
		`a / on(policy) group_left(severity) b`:                                                       {"a", "b"},
		`a * on (x) group_left c`:                                                                     {"a", "c"},
		`steward:compliance_ratio:fleet offset 5m`:                                                    {"steward:compliance_ratio:fleet"},
		`sum without (instance) (x[5m:1m]) > bool 0.5 and y unless z or w`:                            {"x", "y", "z", "w"},
		`{__name__="steward_store_up", job="steward"} or {__name__=~"go_.*"}`:                         {"steward_store_up"},
		`label_replace(up, "dst", "$1", "instance", "(.*):.*")`:                                       {"up"},
		`count_values("version", steward_build_info) # a comment mentioning fake_metric`:              {"steward_build_info"},
		`time() - process_start_time_seconds @ end()`:                                                 {"process_start_time_seconds"},
		`1e3 * 0x1F + Inf - NaN + vector(1)`:                                                          nil,
		`topk(5, x) + x`:                                                                              {"x"},
		`absent(steward_hosts)`:                                                                       {"steward_hosts"},
		`sum by (le)(x_bucket)`:                                                                       {"x_bucket"},
	}
	for in, want := range cases {
		got, _, err := MetricNames(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("MetricNames(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
	_, re, _ := MetricNames(`{__name__=~"go_.*"}`)
	if !reflect.DeepEqual(re, []string{"go_.*"}) {
		t.Errorf("regex __name__ = %v", re)
	}
	for _, bad := range []string{`up{a="b}`, `up{a="b"`} {
		if _, _, err := MetricNames(bad); err == nil {
			t.Errorf("MetricNames(%s) did not fail", bad)
		}
	}
}

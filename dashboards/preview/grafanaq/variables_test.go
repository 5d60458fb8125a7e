package grafanaq

import (
	"reflect"
	"testing"
)

func TestParsePromVarQuery(t *testing.T) {
	cases := map[string]PromVarQuery{
		"label_values(os)": {Func: "label_values", Label: "os"},
		`label_values(steward_hosts{os=~"linux"}, os_version)`: {Func: "label_values", Match: `steward_hosts{os=~"linux"}`, Label: "os_version"},
		"label_values(steward_policy_results,policy)":          {Func: "label_values", Match: "steward_policy_results", Label: "policy"},
		"label_names()":                        {Func: "label_names"},
		"metrics(steward_.*)":                  {Func: "metrics", Expr: "steward_.*"},
		"query_result(topk(5, steward_hosts))": {Func: "query_result", Expr: "topk(5, steward_hosts)"},
		`steward_hosts{online="true"}`:         {Func: "series", Match: `steward_hosts{online="true"}`},
	}
	for in, want := range cases {
		got, err := ParsePromVarQuery(in)
		if err != nil || got != want {
			t.Errorf("ParsePromVarQuery(%s) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "label_values()", "label_values(a, b, )"} {
		if got, err := ParsePromVarQuery(bad); err == nil {
			t.Errorf("ParsePromVarQuery(%q) = %+v, want an error", bad, got)
		}
	}
}

func TestQueryResultText(t *testing.T) {
	got := QueryResultText(map[string]string{"__name__": "steward_hosts", "os": "linux", "online": "true"}, "3", 1700000000.5)
	if want := `steward_hosts{online="true",os="linux"} 3 1700000000500`; got != want {
		t.Errorf("QueryResultText = %q, want %q", got, want)
	}
	if got := SeriesText(map[string]string{"__name__": "up", "job": "steward"}); got != `up{job="steward"}` {
		t.Errorf("SeriesText = %q", got)
	}
}

func TestVariableOptions(t *testing.T) {
	items := opts(`x{policy="b-2"} 1 1`, `x{policy="a-10"} 1 1`, `x{policy="a-9"} 1 1`, `x{policy="b-2"} 2 1`, `y 1 1`)
	v := &Variable{Name: "policy", Regex: `/policy="([^"]+)"/`, Sort: 1}
	got, err := VariableOptions(v, items)
	if want := opts("a-10", "a-9", "b-2"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("capture group, sorted: %v, %v; want %v", got, err, want)
	}
	v.Sort = 8 // natural, descending
	got, _ = VariableOptions(v, items)
	if want := opts("b-2", "a-10", "a-9"); !reflect.DeepEqual(got, want) {
		t.Errorf("natural descending: %v, want %v", got, want)
	}
	v = &Variable{Name: "p", Regex: `/(?<text>[^{]+)\{policy="(?<value>[^"]+)"/`}
	got, _ = VariableOptions(v, items[:1])
	if want := []Option{{Text: "x", Value: "b-2"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("named groups: %v, want %v", got, want)
	}
	v = &Variable{Name: "p", Regex: `a.*`}
	got, _ = VariableOptions(v, opts("abc", "xab"))
	if want := opts("abc"); !reflect.DeepEqual(got, want) {
		t.Errorf("bare regex matches whole values: %v, want %v", got, want)
	}
	if _, err := VariableOptions(&Variable{Regex: "/(/"}, items); err == nil {
		t.Error("a bad regex is not an error")
	}
}

func TestStaticOptions(t *testing.T) {
	v := &Variable{Type: "custom", Query: []byte(`"low, medium : med,high\\, critical"`)}
	got, ok := StaticOptions(v)
	want := []Option{{Text: "low", Value: "low"}, {Text: "medium", Value: "med"}, {Text: "high, critical", Value: "high, critical"}}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("custom: %v, want %v", got, want)
	}
	v = &Variable{Type: "interval", Query: []byte(`"1m,5m, 1h"`)}
	if got, _ := StaticOptions(v); !reflect.DeepEqual(got, opts("1m", "5m", "1h")) {
		t.Errorf("interval: %v", got)
	}
	v = &Variable{Type: "constant", Query: []byte(`"steward"`)}
	if got, _ := StaticOptions(v); !reflect.DeepEqual(got, opts("steward")) {
		t.Errorf("constant: %v", got)
	}
	if _, ok := StaticOptions(&Variable{Type: "query"}); ok {
		t.Error("a query variable has static options")
	}
}

func TestChoose(t *testing.T) {
	var v Variable
	parse := func(js string) {
		v = Variable{}
		d, err := Parse([]byte(`{"templating":{"list":[` + js + `]}}`))
		if err != nil {
			t.Fatal(err)
		}
		v = *d.Templating.List[0]
	}
	parse(`{"name":"os","multi":true,"includeAll":true,"current":{"text":["All"],"value":["$__all"]}}`)
	if s := Choose(&v, opts("a", "b")); !s.All {
		t.Errorf("All kept: %+v", s)
	}
	parse(`{"name":"os","multi":true,"current":{"text":["b"],"value":["b"]}}`)
	if s := Choose(&v, opts("a", "b")); s.All || !s.List || len(s.Selected) != 1 || s.Selected[0].Value != "b" {
		t.Errorf("current kept: %+v", s)
	}
	parse(`{"name":"os","current":{"text":"gone","value":"gone"}}`)
	if s := Choose(&v, opts("a", "b")); s.List || len(s.Selected) != 1 || s.Selected[0].Value != "a" {
		t.Errorf("first option when current is gone: %+v", s)
	}
	parse(`{"name":"os","multi":true,"current":{}}`)
	if s := Pick(&v, opts("a", "b", "c")); len(s.Selected) != 2 || !s.List {
		t.Errorf("Pick of a multi-value variable: %+v", s)
	}
}

func TestParseDashboard(t *testing.T) {
	d, err := Parse([]byte(`{"dashboard": {"uid": "u", "title": "T",
	  "panels": [
	    {"id": 1, "type": "stat", "title": "A", "datasource": "Prometheus", "gridPos": {"x":0,"y":0,"w":6,"h":4},
	     "targets": [{"refId": "A", "expr": "up", "instant": true}]},
	    {"id": 2, "type": "row", "title": "R", "collapsed": true, "gridPos": {"x":0,"y":4,"w":24,"h":1},
	     "panels": [{"id": 3, "type": "table", "title": "B", "datasource": {"type": "grafana-postgresql-datasource", "uid": "steward-postgres"},
	                 "targets": [{"refId": "A", "rawSql": "SELECT 1", "format": "table"}]}]},
	    {"id": 4, "type": "timeseries", "title": "C", "datasource": {"uid": "${ds}"},
	     "targets": [{"refId": "A", "expr": "rate(x[5m])"}, {"refId": "B", "expr": "y", "range": false, "instant": true}]}
	  ],
	  "templating": {"list": [{"name": "ds", "type": "datasource", "query": "prometheus", "current": {"value": "steward-prometheus"}},
	                          {"name": "p", "type": "query", "query": {"query": "label_values(policy)", "refId": "x"}}]}}}`))
	if err != nil {
		t.Fatal(err)
	}
	ps := d.AllPanels()
	if len(ps) != 3 || ps[1].Title != "B" {
		t.Fatalf("AllPanels = %+v", ps)
	}
	if ps[0].Datasource.UID != "Prometheus" || ps[0].TargetKind(ps[0].Targets[0]) != KindPrometheus {
		t.Errorf("string datasource: %+v", ps[0].Datasource)
	}
	if k := ps[1].TargetKind(ps[1].Targets[0]); k != KindPostgres {
		t.Errorf("postgres kind = %q", k)
	}
	if !ps[2].Targets[0].IsRange() || ps[2].Targets[1].IsRange() || !ps[2].Targets[1].IsInstant() {
		t.Errorf("range/instant flags wrong: %+v %+v", ps[2].Targets[0], ps[2].Targets[1])
	}
	if q := d.Variable("p").QueryText(); q != "label_values(policy)" {
		t.Errorf("object query text = %q", q)
	}
	if d.Variable("ds").Current.Value.First() != "steward-prometheus" || d.Variable("ds").Current.Value.IsList {
		t.Errorf("current value: %+v", d.Variable("ds").Current)
	}
}

func TestLegend(t *testing.T) {
	l := map[string]string{"__name__": "steward_hosts", "os": "linux", "online": "true"}
	for format, want := range map[string]string{
		"{{os}} ({{ online }})": "linux (true)",
		"{{missing}}x":          "x",
		"":                      `steward_hosts{online="true", os="linux"}`,
		"__auto":                `steward_hosts{online="true", os="linux"}`,
	} {
		if got := Legend(format, l); got != want {
			t.Errorf("Legend(%q) = %q, want %q", format, got, want)
		}
	}
	if got := Legend("", map[string]string{}); got != "Value" {
		t.Errorf("Legend of a bare number = %q", got)
	}
}

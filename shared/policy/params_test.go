package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// factEnv is a fakeEnv that also tells environment facts.
type factEnv struct {
	*fakeEnv
	facts Facts
	err   error
}

func (f *factEnv) Facts(context.Context) (Facts, error) { return f.facts, f.err }

func debianFacts(t *testing.T) *factEnv {
	t.Helper()
	return &factEnv{fakeEnv: newFakeEnv(t, "debian12.json"), facts: Facts{
		Container:  Fact{From: "no container marker", Known: true},
		Virtual:    Fact{Value: "kvm", From: `/sys/class/dmi/id/sys_vendor "QEMU"`, Known: true},
		InitSystem: Fact{Value: InitSystemd, From: `/proc/1/comm "systemd"`, Known: true},
		Kernel:     Fact{Value: "6.1.0-37-amd64", From: "uname", Known: true},
	}}
}

func loadTailoringFixtures(t *testing.T) []Policy {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "tailoring", "policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := Parse("policies.yaml", data)
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return ps
}

func TestParametersAndReferencesParse(t *testing.T) {
	ps := loadTailoringFixtures(t)
	if len(ps) != 3 {
		t.Fatalf("got %d policies", len(ps))
	}
	wantParams := map[string]Parameter{"series": {Default: `^6\.`, Description: "Regular expression for the supported kernel release"}}
	if !reflect.DeepEqual(ps[0].Parameters, wantParams) {
		t.Errorf("kernel-series parameters = %#v", ps[0].Parameters)
	}
	// The shorthand "name: value" declares a default without description.
	if got := ps[1].Parameters; !reflect.DeepEqual(got, map[string]Parameter{"min_major": {Default: "5"}, "series": {Default: "^[0-9]"}}) {
		t.Errorf("kernel-minimum parameters = %#v", got)
	}
	wantRefs := map[string][]string{"cis": {"1.1.1"}, "ssg": {"kernel_series", "kernel_supported"}}
	if !reflect.DeepEqual(ps[0].References, wantRefs) {
		t.Errorf("references = %#v", ps[0].References)
	}
	if ps[2].Parameters != nil || ps[2].References != nil {
		t.Errorf("no-container: parameters %v references %v", ps[2].Parameters, ps[2].References)
	}
	// A set from the server arrives as JSON and is validated again:
	// parameters and references survive the round trip, values do not.
	ps[0].Values = map[string]string{"series": "x"}
	if err := Validate("server", ps); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	uses := paramUses(ps[1])
	want := []paramUse{
		{name: "series", field: "applies_if.environment.kernel.matches", key: "matches"},
		{name: "min_major", field: "check.environment.kernel.min", key: "min"},
	}
	if !reflect.DeepEqual(uses, want) {
		t.Errorf("paramUses = %#v, want %#v", uses, want)
	}
}

func TestParametersProblems(t *testing.T) {
	head := "policies:\n  - id: p\n    title: T\n    severity: low\n"
	cases := []struct {
		name, src, want string
	}{
		{"undeclared", head + "    check: {environment: {kernel: {matches: '${nope}'}}}\n",
			"f.yaml:5: policy p: check.environment.kernel.matches: ${nope} names no parameter this policy declares"},
		{"unused", head + "    parameters:\n      max_days: 365\n    check: {environment: {container: false}}\n",
			"f.yaml:6: policy p: parameters.max_days: declared but no value test references ${max_days}"},
		{"bad name", head + "    parameters:\n      MaxDays: 365\n    check: {environment: {container: false}}\n",
			`f.yaml:6: policy p: parameters.MaxDays: "MaxDays" must match ^[a-z][a-z0-9_]*$ (at most 64 characters)`},
		{"default breaks min", head + "    parameters:\n      lo: abc\n    check: {environment: {kernel: {min: '${lo}'}}}\n",
			`f.yaml:7: policy p: check.environment.kernel.min: "abc" is not a whole number`},
		{"missing default", head + "    parameters:\n      lo: {description: x}\n    check: {environment: {kernel: {min: '${lo}'}}}\n",
			"f.yaml:6: policy p: parameters.lo.default: required\nf.yaml:7: policy p: check.environment.kernel.min: \"\" is not a whole number"},
		{"unknown parameter key", head + "    parameters:\n      lo: {default: '1', type: int}\n    check: {environment: {kernel: {min: '${lo}'}}}\n",
			"f.yaml:6: policy p: parameters.lo.type: unknown field (known: default, description)"},
		{"boolean default", head + "    parameters:\n      lo: true\n    check: {environment: {kernel: {equals: '${lo}'}}}\n",
			"f.yaml:6: policy p: parameters.lo: must be a string, not a boolean"},
		{"parameters not a mapping", head + "    parameters: [a]\n    check: {environment: {container: false}}\n",
			"f.yaml:5: policy p: parameters: must be a mapping of parameter names to {default, description}, not a list"},
		{"reference key", head + "    references: {CIS: '1.1'}\n    check: {environment: {container: false}}\n",
			`f.yaml:5: policy p: references.CIS: "CIS" must match ^[a-z][a-z0-9_]*$ (a catalogue such as cis, ssg, stig)`},
		{"reference space", head + "    references:\n      ssg: [a, 'b c']\n    check: {environment: {container: false}}\n",
			`f.yaml:6: policy p: references.ssg[1]: id "b c" contains white space`},
		{"reference empty", head + "    references: {cis: ''}\n    check: {environment: {container: false}}\n",
			"f.yaml:5: policy p: references.cis: empty id"},
		{"reference empty list", head + "    references: {ssg: []}\n    check: {environment: {container: false}}\n",
			"f.yaml:5: policy p: references.ssg: list is empty"},
		{"reference twice", head + "    references: {ssg: [a, a]}\n    check: {environment: {container: false}}\n",
			`f.yaml:5: policy p: references.ssg[1]: id "a" listed twice`},
		{"reference mapping", head + "    references: {ssg: {a: b}}\n    check: {environment: {container: false}}\n",
			"f.yaml:5: policy p: references.ssg: must be an id or a list of ids, not a mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(c.src))
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != c.want {
				t.Errorf("got\n%v\nwant\n%s", err, c.want)
			}
		})
	}
	// Parameters belong to one policy: the next policy cannot use them.
	src := head + "    parameters: {lo: '1'}\n    check: {environment: {kernel: {min: '${lo}'}}}\n" +
		"  - id: q\n    title: T\n    severity: low\n    check: {environment: {kernel: {min: '${lo}'}}}\n"
	_, err := Parse("f.yaml", []byte(src))
	if err == nil || err.Error() != "f.yaml:10: policy q: check.environment.kernel.min: ${lo} names no parameter this policy declares" {
		t.Errorf("second policy: %v", err)
	}
}

func TestTailoringParse(t *testing.T) {
	path := filepath.Join("testdata", "tailoring", "site.yaml")
	tl, err := LoadTailoring(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tl.Parameters, map[string]string{"series": `^6\.1\.`}) {
		t.Errorf("parameters = %#v", tl.Parameters)
	}
	want := map[string]PolicyTailoring{
		"kernel-minimum": {Parameters: map[string]string{"min_major": "6"}},
		"no-container":   {Disabled: true},
	}
	if !reflect.DeepEqual(tl.Policies, want) {
		t.Errorf("policies = %#v", tl.Policies)
	}
	// Lines as in the file: the comment is line 1.
	if tl.lines["parameters.series"] != 4 || tl.lines["policies.kernel-minimum.parameters.min_major"] != 7 || tl.lines["policies.no-container"] != 8 {
		t.Errorf("lines = %v", tl.lines)
	}

	_, err = LoadTailoring(filepath.Join("testdata", "tailoring", "malformed.yaml"))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("malformed: %v", err)
	}
	mf := filepath.Join("testdata", "tailoring", "malformed.yaml")
	wantErr := strings.Join([]string{
		mf + `:3: tailoring.parameters.Bad-Name: "Bad-Name" is not a parameter name (want ^[a-z][a-z0-9_]*$)`,
		mf + `:4: tailoring.parameters.ok: must be a string, not a boolean`,
		mf + `:6: tailoring.policies.kernel-series.disabled: must be true or false, not "no"`,
		mf + `:7: tailoring.policies.Not_An_Id: "Not_An_Id" is not a policy id (want ^[a-z0-9][a-z0-9-]*$)`,
		mf + `:8: tailoring.policies.kernel-minimum: sets nothing: want parameters or disabled`,
		mf + `:9: tailoring.extra: unknown field (known: parameters, policies)`,
	}, "\n")
	if err.Error() != wantErr {
		t.Errorf("malformed:\n%v\nwant\n%s", err, wantErr)
	}

	for _, c := range []struct{ name, src, want string }{
		{"empty", "# nothing\n", "t.yaml: file is empty; want a tailoring: mapping"},
		{"blank", "  \n", "t.yaml: file is empty; want a tailoring: mapping"},
		{"no tailoring key", "parameters: {a: b}\n", "t.yaml:1: parameters: unknown field (known: tailoring)\nt.yaml:1: missing tailoring: mapping"},
		{"bad yaml", "tailoring: [\n", "t.yaml:1: invalid YAML: did not find expected node content"},
		{"json", `{"tailoring": {"parameters": {"a": 1}}}`, ""},
	} {
		_, err := ParseTailoring("t.yaml", []byte(c.src))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	if _, err := LoadTailoring(filepath.Join(t.TempDir(), "absent.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
	big := "tailoring:\n  parameters:\n    a: '" + strings.Repeat("x", MaxFileSize) + "'\n"
	if _, err := ParseTailoring("big.yaml", []byte(big)); err == nil || !strings.Contains(err.Error(), "file is larger than") {
		t.Errorf("big file: %v", err)
	}
}

func TestTailoringApply(t *testing.T) {
	ps := loadTailoringFixtures(t)
	tl, err := LoadTailoring(filepath.Join("testdata", "tailoring", "site.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := tl.Apply(ps)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].ID != "kernel-series" || out[1].ID != "kernel-minimum" {
		t.Fatalf("tailored set: %v", ids(out))
	}
	// Global value for kernel-series; kernel-minimum takes its own
	// min_major and the global series.
	if got := out[0].ParameterValues(); !reflect.DeepEqual(got, map[string]string{"series": `^6\.1\.`}) {
		t.Errorf("kernel-series values = %v", got)
	}
	if got := out[1].ParameterValues(); !reflect.DeepEqual(got, map[string]string{"min_major": "6", "series": `^6\.1\.`}) {
		t.Errorf("kernel-minimum values = %v", got)
	}
	if ps[0].Values != nil || len(ps) != 3 {
		t.Error("Apply modified its input")
	}
	if got := ps[1].ParameterValues(); !reflect.DeepEqual(got, map[string]string{"min_major": "5", "series": "^[0-9]"}) {
		t.Errorf("untailored values = %v", got)
	}

	uf := filepath.Join("testdata", "tailoring", "unknown.yaml")
	tl, err = LoadTailoring(uf)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tl.Apply(ps)
	want := strings.Join([]string{
		uf + ":4: tailoring.parameters.max_days: no loaded policy declares parameter max_days",
		uf + ":6: policy kernel-series: tailoring.policies.kernel-series.parameters.min_major: policy kernel-series declares no parameter min_major",
		uf + ":7: tailoring.policies.missing-policy: no loaded policy has id missing-policy",
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("unknown names:\n%v\nwant\n%s", err, want)
	}

	bf := filepath.Join("testdata", "tailoring", "badvalue.yaml")
	tl, err = LoadTailoring(bf)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tl.Apply(ps)
	want = bf + `:5: policy kernel-minimum: check.environment.kernel.min: parameter min_major = "abc": "abc" is not a whole number`
	if err == nil || err.Error() != want {
		t.Errorf("bad value:\n%v\nwant\n%s", err, want)
	}
	// A bad regular expression is refused the same way.
	tl, err = ParseTailoring("re.yaml", []byte("tailoring:\n  parameters: {series: '(['}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tl.Apply(ps); err == nil || !strings.Contains(err.Error(), "re.yaml:2: policy kernel-series: check.environment.kernel.matches: parameter series = \"([\": invalid regular expression") {
		t.Errorf("bad regex: %v", err)
	}
}

func ids(ps []Policy) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// TestParametersEvaluate evaluates parsed policies with their defaults
// and tailored values on a fake Debian 12 host (kernel 6.1.0-37-amd64).
func TestParametersEvaluate(t *testing.T) {
	ps := loadTailoringFixtures(t)
	env := debianFacts(t)
	eval := func(p Policy) Result {
		return Evaluate(context.Background(), p, env)
	}
	res := eval(ps[0])
	if res.Status != StatusPass || !reflect.DeepEqual(res.Parameters, map[string]string{"series": `^6\.`}) {
		t.Errorf("default: %s %v\n%s", res.Status, res.Parameters, evidenceText(res.Evidence))
	}
	if got := evidenceText(res.Evidence); got != "check.environment true kernel: \"6.1.0-37-amd64\", from uname\n" {
		t.Errorf("evidence %q", got)
	}

	tailor := func(src string) []Policy {
		t.Helper()
		tl, err := ParseTailoring("t.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		out, err := tl.Apply(ps)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := tailor("tailoring:\n  parameters: {series: '^5\\.'}\n")
	res = eval(out[0])
	if res.Status != StatusFail || res.Parameters["series"] != `^5\.` {
		t.Errorf("tailored: %s %v", res.Status, res.Parameters)
	}
	if got := evidenceText(res.Evidence); got != "check.environment false kernel: \"6.1.0-37-amd64\" (want matching \"^5\\\\.\"), from uname\n" {
		t.Errorf("evidence %q", got)
	}
	// The tailored series also drives kernel-minimum's applies_if.
	res = eval(out[1])
	if res.Status != StatusNotApplicable {
		t.Errorf("kernel-minimum with series ^5: %s\n%s", res.Status, evidenceText(res.Evidence))
	}
	// Per-policy value over global; a release is no whole number, so
	// min fails with the wanted bound named.
	out = tailor("tailoring:\n  parameters: {series: '^5\\.'}\n  policies:\n    kernel-minimum: {parameters: {series: '^6', min_major: '7'}}\n")
	res = eval(out[1])
	if res.Status != StatusFail || !strings.Contains(evidenceText(res.Evidence), `kernel: "6.1.0-37-amd64" (want >= 7)`) {
		t.Errorf("kernel-minimum: %s\n%s", res.Status, evidenceText(res.Evidence))
	}
}

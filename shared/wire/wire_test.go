package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

var update = flag.Bool("update", false, "rewrite golden files")

func mustSection(t *testing.T, name string, v any) Section {
	t.Helper()
	data, err := inventory.Canonical(v)
	if err != nil {
		t.Fatal(err)
	}
	return Section{Name: name, Hash: inventory.Hash(data), Data: data}
}

// TestGolden pins the JSON of every message type. Run with -update after a
// deliberate protocol change, and say so in docs/protocol.md.
func TestGolden(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	osSec := mustSection(t, "os", inventory.OS{Name: "Debian GNU/Linux 12 (bookworm)", Platform: "debian", Family: "debian", Version: "12", Kernel: "6.1.0-28-amd64", Arch: "x86_64"})
	swSec := mustSection(t, "software", inventory.Software{Packages: []inventory.Package{{Name: "bash", Version: "5.2.15-2+b7", Arch: "amd64", Source: "dpkg"}}})
	hashes := map[string]string{"os": osSec.Hash, "software": swSec.Hash, "cpu": strings.Repeat("c", 64)}
	cases := []struct {
		file    string
		typ     string
		seq     uint64
		payload any
	}{
		{"hello.json", TypeHello, 0, Hello{ProtocolVersions: []int{1}, AgentVersion: "0.1.0", OS: "linux", Arch: "amd64", Hostname: "web-1"}},
		{"welcome.json", TypeWelcome, 0, Welcome{ProtocolVersion: 1, HostID: 42, ServerTime: at, InventoryInterval: Duration(time.Hour), HeartbeatInterval: Duration(30 * time.Second), LastSeq: 17}},
		{"inventory_full.json", TypeInventory, 18, Inventory{CollectedAt: at, Digest: inventory.Digest(hashes), Sections: []Section{osSec, swSec}, Errors: map[string]string{"ports": "unsupported operation"}}},
		{"inventory_unchanged.json", TypeInventory, 19, Inventory{CollectedAt: at, Digest: inventory.Digest(hashes)}},
		{"inventory_removed.json", TypeInventory, 20, Inventory{CollectedAt: at, Digest: inventory.Digest(map[string]string{"os": osSec.Hash}), Removed: []string{"software"}}},
		{"heartbeat.json", TypeHeartbeat, 21, Heartbeat{Time: at}},
		{"heartbeat_health.json", TypeHeartbeat, 23, Heartbeat{Time: at, Health: &Health{
			InventoryScanSeconds: []float64{2.345}, PolicyScanSeconds: []float64{0.412, 0.087},
			CheckErrors: 3, Dropped: 1, Reconnects: 2, Spooled: 4,
		}}},
		{"heartbeat_idle.json", TypeHeartbeat, 24, Heartbeat{Time: at, Health: &Health{}}},
		{"ack.json", TypeAck, 21, Ack{}},
		{"ack_resync.json", TypeAck, 19, Ack{Resync: true}},
		{"error.json", TypeError, 0, Error{Code: CodeUnavailable, Message: "database unavailable", RetryAfter: Duration(30 * time.Second)}},
		{"policy_set.json", TypePolicySet, 0, PolicySet{Revision: 7, Policies: []policy.Policy{{
			ID: "ssh-no-root-login", Title: "SSH does not allow root login", Severity: policy.SeverityHigh,
			Platforms: []string{"linux"},
			Check:     policy.Check{File: &policy.FileCheck{Path: "/etc/ssh/sshd_config", Matches: `(?m)^\s*PermitRootLogin\s+no\b`}},
		}}}},
		{"results.json", TypeResults, 22, Results{Revision: 7, Results: []policy.Result{{
			PolicyID: "ssh-no-root-login", Status: policy.StatusFail, CheckedAt: at, Duration: 1200 * time.Microsecond,
			Evidence: []policy.Evidence{{Check: "check.file", Passed: false, Detail: "/etc/ssh/sshd_config: no line matches"}},
		}}, Removed: []string{"telnet-absent"}}},
		{"check_now.json", TypeCheckNow, 0, CheckNow{}},
		{"results_evaluated.json", TypeResults, 26, Results{Revision: 7, EvaluatedAt: at}},
		{"policy_set_signed.json", TypePolicySet, 0, PolicySet{Revision: 8, Policies: goldenSignedPolicies(), Signature: goldenSignature(t)}},
		{"hello_labels.json", TypeHello, 0, Hello{ProtocolVersions: []int{1}, AgentVersion: "0.2.0", OS: "linux", Arch: "amd64", Hostname: "web-1", Labels: true}},
		{"welcome_labels.json", TypeWelcome, 0, Welcome{ProtocolVersion: 1, HostID: 42, ServerTime: at, InventoryInterval: Duration(time.Hour), HeartbeatInterval: Duration(30 * time.Second), LastSeq: 17,
			Labels: map[string]string{"env": "prod", "role": "web"}}},
		{"labels.json", TypeLabels, 0, Labels{Labels: map[string]string{"env": "staging"}}},
		{"labels_none.json", TypeLabels, 0, Labels{Labels: map[string]string{}}},
		{"policy_set_tailored.json", TypePolicySet, 0, PolicySet{Revision: 10, Policies: goldenTailoredPolicies(), Tailorings: goldenTailorings(), Signature: goldenTailoredSignature(t)}},
		{"heartbeat_policy_refusal.json", TypeHeartbeat, 25, Heartbeat{Time: at, PolicyRefusal: &PolicyRefusal{
			Revision: 9, Code: "rollback", Reason: "the set was signed before the set this agent already accepted", At: at,
		}}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Encode(tc.typ, tc.seq, tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			// Golden files hold the exact bytes on the wire: indenting them
			// would change section data and so break its hash.
			pretty := bytes.NewBuffer(append(got, '\n'))
			path := filepath.Join("testdata", tc.file)
			if *update {
				os.WriteFile(path, pretty.Bytes(), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./shared/wire -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("%s changed:\n got %s\nwant %s", tc.file, pretty.Bytes(), want)
			}
			env, err := Decode(want)
			if err != nil || env.Type != tc.typ || env.Seq != tc.seq {
				t.Fatalf("decode golden: %+v %v", env, err)
			}
			if ps, ok := tc.payload.(PolicySet); ok && ps.Signature != nil {
				checkGoldenSignedSet(t, env)
			}
			if hb, ok := tc.payload.(Heartbeat); ok {
				var back Heartbeat
				if err := DecodePayload(env, &back); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(back, hb) {
					t.Errorf("heartbeat changed in round trip:\n got %+v\nwant %+v", back, hb)
				}
				if back.Health != nil {
					if err := back.Health.Validate(); err != nil {
						t.Errorf("golden health does not validate: %v", err)
					}
				}
				if back.PolicyRefusal != nil {
					if err := back.PolicyRefusal.Validate(); err != nil {
						t.Errorf("golden policy refusal does not validate: %v", err)
					}
				}
			}
			if inv, ok := tc.payload.(Inventory); ok {
				var back Inventory
				if err := DecodePayload(env, &back); err != nil {
					t.Fatal(err)
				}
				if err := back.Validate(); err != nil {
					t.Errorf("golden inventory does not validate: %v", err)
				}
				if back.Digest != inv.Digest {
					t.Error("digest changed in round trip")
				}
			}
		})
	}
}

func TestUnchangedInventoryFitsBudget(t *testing.T) {
	hashes := map[string]string{}
	for _, n := range inventory.SectionNames {
		hashes[n] = strings.Repeat("f", 64)
	}
	b, err := Encode(TypeInventory, 1<<40, Inventory{CollectedAt: time.Now().UTC(), Digest: inventory.Digest(hashes)})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 256 {
		t.Errorf("unchanged inventory is %d bytes, budget is 256: %s", len(b), b)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"not json", "hello"},
		{"no type", `{"seq":1}`},
		{"unknown type", `{"type":"shell","payload":{}}`},
		{"seq not a number", `{"type":"ack","seq":"one"}`},
		{"negative seq", `{"type":"ack","seq":-1}`},
		{"seq above int64", `{"type":"heartbeat","seq":9223372036854775808,"payload":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Decode([]byte(tc.in)); !errors.Is(err, ErrMalformed) {
				t.Errorf("Decode = %v, want ErrMalformed", err)
			}
		})
	}
	if err := DecodePayload(Envelope{Type: TypeHello}, &Hello{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("missing payload: %v", err)
	}
	if err := DecodePayload(Envelope{Type: TypeHello, Payload: []byte(`{"protocol_versions":"1"}`)}, &Hello{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("wrong payload type: %v", err)
	}
}

func TestInventoryValidate(t *testing.T) {
	good := mustSection(t, "os", inventory.OS{Name: "x"})
	digest := strings.Repeat("a", 64)
	tests := []struct {
		name string
		inv  Inventory
		ok   bool
	}{
		{"ok", Inventory{Digest: digest, Sections: []Section{good}}, true},
		{"short digest", Inventory{Digest: "abc"}, false},
		{"unknown section", Inventory{Digest: digest, Sections: []Section{{Name: "x", Hash: good.Hash, Data: good.Data}}}, false},
		{"twice", Inventory{Digest: digest, Sections: []Section{good, good}}, false},
		{"hash mismatch", Inventory{Digest: digest, Sections: []Section{{Name: "os", Hash: strings.Repeat("0", 64), Data: good.Data}}}, false},
		{"invalid json", Inventory{Digest: digest, Sections: []Section{{Name: "os", Hash: inventory.Hash([]byte("{")), Data: json.RawMessage("{")}}}, false},
		{"invalid utf-8", Inventory{Digest: digest, Sections: []Section{{Name: "os", Hash: inventory.Hash([]byte("{\"name\":\"\xff\"}")), Data: json.RawMessage("{\"name\":\"\xff\"}")}}}, false},
		{"sent and removed", Inventory{Digest: digest, Sections: []Section{good}, Removed: []string{"os"}}, false},
		{"unknown removed", Inventory{Digest: digest, Removed: []string{"x"}}, false},
		{"unknown error section", Inventory{Digest: digest, Errors: map[string]string{"x": "y"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.inv.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

// TestHeartbeatCompatibility: a heartbeat without health (an agent older
// than it) decodes with Health nil, and fields this build does not know (a
// newer agent) are ignored rather than refused.
func TestHeartbeatCompatibility(t *testing.T) {
	for _, tc := range []struct {
		name, payload string
		want          *Health
	}{
		{"no health", `{"time":"2026-11-25T12:00:00Z"}`, nil},
		{"null health", `{"time":"2026-11-25T12:00:00Z","health":null}`, nil},
		{"unknown fields", `{"time":"2026-11-25T12:00:00Z","uptime":3,"health":{"reconnects":1,"cpu_seconds":7.5}}`, &Health{Reconnects: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hb Heartbeat
			if err := DecodePayload(Envelope{Type: TypeHeartbeat, Seq: 1, Payload: []byte(tc.payload)}, &hb); err != nil {
				t.Fatalf("DecodePayload = %v", err)
			}
			if !reflect.DeepEqual(hb.Health, tc.want) {
				t.Errorf("health = %+v, want %+v", hb.Health, tc.want)
			}
			if !hb.Time.Equal(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)) {
				t.Errorf("time = %v", hb.Time)
			}
		})
	}
}

// TestHealthDecodeRejects: values JSON cannot carry, or that do not fit
// the field, fail decoding as malformed before Validate is reached.
func TestHealthDecodeRejects(t *testing.T) {
	for _, tc := range []struct{ name, health string }{
		{"negative count", `{"dropped":-1}`},
		{"fractional count", `{"check_errors":1.5}`},
		{"count above uint64", `{"spooled":18446744073709551616}`},
		{"NaN", `{"inventory_scan_seconds":[NaN]}`},
		{"duration overflows float64", `{"policy_scan_seconds":[1e400]}`},
		{"durations not a list", `{"policy_scan_seconds":1}`},
		{"string count", `{"reconnects":"2"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hb Heartbeat
			payload := `{"time":"2026-11-25T12:00:00Z","health":` + tc.health + `}`
			err := DecodePayload(Envelope{Type: TypeHeartbeat, Seq: 1, Payload: []byte(payload)}, &hb)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("DecodePayload = %v (health %+v), want ErrMalformed", err, hb.Health)
			}
		})
	}
}

func TestHealthValidate(t *testing.T) {
	many := make([]float64, MaxHealthScans+1)
	tests := []struct {
		name string
		h    Health
		ok   bool
	}{
		{"empty", Health{}, true},
		{"typical", Health{InventoryScanSeconds: []float64{1.2}, PolicyScanSeconds: []float64{0, 0.3}, CheckErrors: 2, Dropped: 1, Reconnects: 1, Spooled: 3}, true},
		{"at every bound", Health{InventoryScanSeconds: many[:MaxHealthScans], PolicyScanSeconds: []float64{MaxScanSeconds},
			CheckErrors: MaxHealthCount, Dropped: MaxHealthCount, Reconnects: MaxHealthCount, Spooled: MaxHealthCount}, true},
		{"too many inventory scans", Health{InventoryScanSeconds: many}, false},
		{"too many policy scans", Health{PolicyScanSeconds: many}, false},
		{"negative duration", Health{InventoryScanSeconds: []float64{-0.001}}, false},
		{"NaN duration", Health{PolicyScanSeconds: []float64{math.NaN()}}, false},
		{"infinite duration", Health{PolicyScanSeconds: []float64{math.Inf(1)}}, false},
		{"duration over a day", Health{InventoryScanSeconds: []float64{MaxScanSeconds + 1}}, false},
		{"check errors", Health{CheckErrors: MaxHealthCount + 1}, false},
		{"dropped", Health{Dropped: MaxHealthCount + 1}, false},
		{"reconnects", Health{Reconnects: math.MaxUint64}, false},
		{"spooled", Health{Spooled: MaxHealthCount + 1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.h.Validate()
			if (err == nil) != tc.ok {
				t.Errorf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden frames in testdata (%v)", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"inventory","seq":1,"payload":{"digest":"x","sections":[{"name":"os","data":{}}]}}`))
	// Every refusal is marked malformed: the gateway picks the agent's
	// error frame by it.
	check := func(t *testing.T, what string, err error) bool {
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: error not marked malformed: %v", what, err)
		}
		return err == nil
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := Decode(b)
		if !check(t, "decode", err) {
			return
		}
		switch env.Type {
		case TypeInventory:
			var inv Inventory
			if check(t, "inventory", DecodePayload(env, &inv)) {
				check(t, "inventory", inv.Validate())
			}
		case TypeHeartbeat:
			var hb Heartbeat
			if check(t, "heartbeat", DecodePayload(env, &hb)) && hb.Health != nil {
				check(t, "health", hb.Health.Validate())
			}
		case TypeHello:
			var h Hello
			check(t, "hello", DecodePayload(env, &h))
		case TypeResults:
			var r Results
			check(t, "results", DecodePayload(env, &r))
		case TypePolicySet:
			var ps PolicySet
			check(t, "policy_set", DecodePayload(env, &ps))
		}
	})
}

// Decode copies the payload out of its input: the server reads every
// frame into a reused buffer and keeps only the envelope.
func TestDecodeDoesNotAliasInput(t *testing.T) {
	in := []byte(`{"type":"heartbeat","seq":7,"payload":{"time":"2026-12-07T08:00:00Z"}}`)
	env, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	want := string(env.Payload)
	for i := range in {
		in[i] = 'x'
	}
	if string(env.Payload) != want {
		t.Fatalf("payload changed with the input: %q, was %q", env.Payload, want)
	}
}

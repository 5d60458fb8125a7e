package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
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

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(`{"type":"inventory","seq":1,"payload":{"digest":"x","sections":[{"name":"os","data":{}}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := Decode(b)
		if err != nil {
			return
		}
		if env.Type == TypeInventory {
			var inv Inventory
			if DecodePayload(env, &inv) == nil {
				_ = inv.Validate()
			}
		}
	})
}

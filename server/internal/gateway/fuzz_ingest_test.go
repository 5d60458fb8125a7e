package gateway

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/sqlite"
	"github.com/steward-project/steward/shared/wire"
)

// FuzzIngest feeds an agent frame through what the server does with it:
// decode the envelope, validate the message the way a connection does
// (conn.message, validateResults, the hello's payload), and apply what
// passed to a real SQLite store. Invalid input must be refused with an
// error marked wire.ErrMalformed; valid input must be applied without a
// store error; nothing may panic. The seeds are the protocol's golden
// frames and the bad inputs known to matter (testdata/fuzz/FuzzIngest).
func FuzzIngest(f *testing.F) {
	// The wire package's golden frames, from the repository root.
	root := filepath.Join("..", "..", "..")
	golden, err := filepath.Glob(filepath.Join(root, "shared", "wire", "testdata", "*.json"))
	if err != nil || len(golden) == 0 {
		f.Fatalf("no golden frames in shared/wire/testdata (%v)", err)
	}
	for _, p := range golden {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range ingestSeeds() {
		f.Add([]byte(s))
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		f.Fatal(err)
	}
	id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: strings.Repeat("a", 64), Hostname: "fuzz", EnrolledAt: time.Now()})
	if err != nil {
		f.Fatal(err)
	}
	c := &conn{g: &Gateway{}, host: store.Host{ID: id}}

	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := wire.Decode(b)
		if err != nil {
			malformed(t, "decode", err)
			return
		}
		switch env.Type {
		case wire.TypeHello:
			var h wire.Hello
			if err := wire.DecodePayload(env, &h); err != nil {
				malformed(t, "hello", err)
				return
			}
			info := store.HelloInfo{Hostname: h.Hostname, OS: h.OS, Arch: h.Arch, AgentVersion: h.AgentVersion}
			if err := st.HostConnected(ctx, id, info, time.Now().UTC()); err != nil {
				t.Fatalf("a decoded hello was refused by the store: %v", err)
			}
		case wire.TypeResults:
			var r wire.Results
			if err := wire.DecodePayload(env, &r); err != nil {
				malformed(t, "results", err)
				return
			}
			if err := validateResults(&r); err != nil {
				malformed(t, "results", err)
				return
			}
			// Results naming policies the server does not hold are skipped
			// by the store; they must not fail it.
			if _, err := st.ApplyResults(ctx, []store.ResultBatch{{HostID: id, Revision: int64(r.Revision), Results: r.Results, Removed: r.Removed}}); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("validated results were refused by the store: %v", err)
			}
		default:
			in, err := c.message(env)
			if err != nil {
				malformed(t, env.Type, err)
				return
			}
			res, err := st.ApplyBatch(ctx, []store.Message{in.msg})
			if err != nil {
				t.Fatalf("a validated %s was refused by the store: %v", env.Type, err)
			}
			if len(res) != 1 {
				t.Fatalf("%d results for one message", len(res))
			}
		}
	})
}

func malformed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("%s refused with an error not marked malformed: %v", what, err)
	}
}

// ingestSeeds are the bad inputs known to matter, beside the golden frames.
func ingestSeeds() []string {
	digest := strings.Repeat("0", 64)
	huge := strings.Repeat("x", 1<<20)
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	return []string{
		``,
		`null`,
		`{}`,
		`{"type":"inventory"}`,
		`{"type":"inventory","seq":1}`,
		`{"type":"inventory","seq":9223372036854775808,"payload":{"digest":"` + digest + `"}}`,
		`{"type":"inventory","seq":-1,"payload":{}}`,
		`{"type":"heartbeat","seq":0,"payload":{"time":"2025-01-01T00:00:00Z"}}`,
		`{"type":"welcome","seq":3,"payload":{}}`,
		`{"type":"inventory","seq":2,"payload":{"digest":"` + digest + `","sections":[{"name":"os","hash":"x","data":{"name":"\u0000\u001b[2J\u202e"}}]}}`,
		`{"type":"inventory","seq":3,"payload":{"digest":"` + digest + `","errors":{"ports":"\u0000` + huge + `"}}}`,
		`{"type":"inventory","seq":4,"payload":{"digest":"` + digest + `","sections":[{"name":"nope","hash":"","data":{}}]}}`,
		`{"type":"inventory","seq":5,"payload":{"digest":"` + digest + `","removed":["host","host","nope"]}}`,
		"{\"type\":\"hello\",\"payload\":{\"protocol_versions\":[1],\"hostname\":\"\xff\xfe\x00\"}}",
		`{"type":"hello","payload":{"protocol_versions":[1],"hostname":"` + huge + `"}}`,
		`{"type":"hello","payload":{"protocol_versions":[1],"hostname":"a\u0000b\u001b]8;;x\u0007"}}`,
		`{"type":"heartbeat","seq":6,"payload":{"time":"2025-01-01T00:00:00Z","health":{"inventory_scan_seconds":[1e308]}}}`,
		`{"type":"heartbeat","seq":7,"payload":{"time":"x"}}`,
		`{"type":"results","seq":8,"payload":{"revision":1,"results":[{"policy_id":"p\u0000","status":"fail","error":"\u0000` + huge[:70000] + `"}]}}`,
		`{"type":"results","seq":9,"payload":{"revision":1,"results":[{"policy_id":"","status":"pass"}]}}`,
		`{"type":"inventory","seq":10,"payload":` + deep + `}`,
		`{"type":"inventory","seq":11,"payload":{"digest":"` + digest + `","sections":[{"name":"software","hash":"h","data":` + deep + `}]}}`,
	}
}

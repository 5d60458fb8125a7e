package ctl_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/steward-project/steward/server/internal/ctl"
	"github.com/steward-project/steward/server/internal/store"
)

// hostile are values an agent controls, each aimed at a terminal or at the
// table layout.
var hostile = []string{
	"\x1b[2J\x1b[H\x1b[31mowned\x1b[0m",                      // CSI: clear screen, colour
	"\x1b]0;set title\x07",                                   // OSC title
	"\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\", // OSC 8 hyperlink
	"c1\u009b2Jcsi\u0090dcs\u009dosc",                        // C1 controls
	"crlf\r\n9\tforged-host\tdebian\t12\tyes\t-\t-",          // a forged row
	"nul\x00bs\b\bdel\x7fbel\a",
	"\u202egnp.exe \u2066isolate\u2069 \u200f\u061c", // bidi
	"zw\u200b\u200d\ufeff\U000E0041\u2028\u2029",     // format, separators
	"'); DROP TABLE hosts;-- <script>alert(1)</script> <!channel> <https://x|y>",
	strings.Repeat("L", 64<<10), // 64 KiB
}

// terminalSafe reports the first thing in out a terminal would act on,
// other than the newlines that end lines.
func terminalSafe(out string) (string, bool) {
	for i, r := range out {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(out[i:], "\uFFFD"):
			return "invalid UTF-8", false
		case r == '\n':
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r == '\u2028', r == '\u2029', unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("%U at byte %d", r, i), false
		}
	}
	return "", true
}

// TestTableOutputIsInert puts every hostile value in every host, inventory,
// change and software field the commands print, and checks each table
// stays inert with one line per row, and each JSON decodes to the values.
func TestTableOutputIsInert(t *testing.T) {
	ts := newTestServer(t)
	for i, v := range hostile {
		id := int64(i + 1)
		ts.store.AddHost(store.Host{ID: id, Hostname: v, OS: v, Platform: v, OSVersion: v, Arch: v, AgentVersion: v,
			EnrolledAt: now, LastSeen: now, HardwareUUID: v, MachineID: v, Serial: v})
		sw, _ := json.Marshal(map[string]any{"packages": []map[string]string{{"name": v, "version": v}}})
		osSec, _ := json.Marshal(map[string]string{"name": v, "kernel": v})
		cpu, _ := json.Marshal(map[string]any{"model": v, "cores": 1})
		ts.store.SetInventory(store.InventoryDoc{HostID: id, CollectedAt: now,
			Sections: map[string]json.RawMessage{"software": sw, "os": osSec, "cpu": cpu},
			Hashes:   map[string]string{"software": "h", "os": "h", "cpu": "h"},
			Errors:   map[string]string{"ports": v, "users": v}})
		ts.store.AddChange(store.Change{ID: id, HostID: 1, Kind: "software_installed", Subject: v, OldValue: v, NewValue: v,
			FirstSeen: now, Seq: uint64(id)})
		ts.store.AddSoftware(store.SoftwareHit{SoftwareID: id, Name: "pkg", Version: v, Arch: v, Source: v, HostID: id, Hostname: v})
	}
	env := map[string]string{"STEWARD_SERVER": ts.URL, "STEWARD_TOKEN": token}
	n := len(hostile)
	for _, c := range []struct {
		args  []string
		lines int // table lines: header and one per row, or one per field
	}{
		{[]string{"hosts", "list"}, n + 1},
		{[]string{"hosts", "changes", "1"}, n + 1},
		{[]string{"software", "search", "pkg"}, n + 1},
		{[]string{"hosts", "show", "5"}, 20},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			res := run(t, env, c.args...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if what, ok := terminalSafe(res.stdout); !ok {
				t.Errorf("table output holds %s", what)
			}
			if got := strings.Count(res.stdout, "\n"); got != c.lines {
				t.Errorf("table has %d lines, want %d:\n%.2000s", got, c.lines, res.stdout)
			}
			for _, line := range strings.Split(res.stdout, "\n") {
				if len(line) > 8<<10 {
					t.Errorf("a %d-byte line: long values are not cut", len(line))
				}
			}
			res = run(t, env, append(c.args, "-o", "json")...)
			if res.code != 0 {
				t.Fatalf("-o json: exit %d: %s", res.code, res.stderr)
			}
			if what, ok := terminalSafe(res.stdout); !ok {
				t.Errorf("JSON output holds %s", what)
			}
			var doc any
			if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil {
				t.Fatalf("-o json is not JSON: %v", err)
			}
			found := map[string]bool{}
			collectStrings(doc, found)
			want := hostile
			if c.args[1] == "show" {
				want = hostile[4:5]
			}
			for _, v := range want {
				if !found[v] {
					t.Errorf("-o json lost the exact value %.60q", v)
				}
			}
		})
	}
}

// collectStrings adds every string in a decoded JSON document, and every
// string of JSON documents nested in those, to into.
func collectStrings(v any, into map[string]bool) {
	switch v := v.(type) {
	case string:
		into[v] = true
	case []any:
		for _, e := range v {
			collectStrings(e, into)
		}
	case map[string]any:
		for k, e := range v {
			into[k] = true
			collectStrings(e, into)
		}
	}
}

// TestErrorsAreInert: what a server says in an error reaches stderr
// through the same escaping, whatever command printed it.
func TestErrorsAreInert(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":"\u001b]0;owned\u0007 \u009b2J \u202eboom\nstewardctl: forged"}`))
	}))
	defer srv.Close()
	res := run(t, map[string]string{"STEWARD_SERVER": srv.URL, "STEWARD_TOKEN": token}, "hosts", "list")
	if res.code != ctl.ExitError {
		t.Fatalf("exit %d, want %d", res.code, ctl.ExitError)
	}
	if what, ok := terminalSafe(res.stderr); !ok {
		t.Errorf("stderr holds %s: %q", what, res.stderr)
	}
	if !strings.Contains(res.stderr, `\x1b]0;owned\x07`) {
		t.Errorf("stderr does not show the escaped message: %q", res.stderr)
	}
}

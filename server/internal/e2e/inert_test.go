package e2e

// The injection corpus test: hostile strings in every inventory field a
// real agent sends, through a real steward-server on SQLite and
// PostgreSQL, must be stored exactly (the API returns the bytes sent),
// leave the database working, and come out of every stewardctl output
// format inert.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/steward-project/steward/server/internal/loadgen"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// injectionCorpus are values an agent controls, aimed at terminals, table
// layouts, SQL, HTML and chat markup.
var injectionCorpus = []string{
	"\x1b[2J\x1b[H\x1b[31mred\x1b[0m",                                  // CSI: clear screen, colour
	"\x1b]0;set the title\x07",                                         // OSC title
	"\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",           // OSC 8 hyperlink
	"c1\u009b2J\u0090dcs\u009d0;t\u009c",                               // C1 controls
	"crlf\r\nforged\trow\tyes",                                         // CR LF, tabs: a forged row
	"nul\x00byte bs\b\b del\x7f bel\a",                                 // NUL, BS, DEL, BEL
	"\u202egnp.exe \u202a\u202b\u202c\u202d \u2066i\u2067\u2068\u2069", // bidi
	"zw\u200b\u200c\u200d\u2060\ufeff\u00ad\U000E0041 \u2028\u2029",    // format, separators
	"'); DROP TABLE hosts;--",
	"<script>alert(1)</script>&amp;",
	"<!channel> <!here> <@U123> <https://x.example|y>",
	strings.Repeat("L", 64<<10), // 64 KiB
}

func TestInjectionCorpusStaysInert(t *testing.T) {
	for _, st := range e2eStores() {
		t.Run(st.name, func(t *testing.T) {
			injectionCorpusRun(t, startServer(t, st.db(t)))
		})
	}
}

// e2eStores are the two databases every end-to-end store test runs on.
func e2eStores() []struct {
	name string
	db   func(t *testing.T) string
} {
	return []struct {
		name string
		db   func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "steward.db") }},
		{"postgres", func(t *testing.T) string { return pgtest.NewDatabase(t) }},
	}
}

// corpusHost is one host of the corpus run and what it sent.
type corpusHost struct {
	v        string
	evidence string // v within the protocol's bound on evidence
	id       int64
	sections map[string]json.RawMessage
}

func injectionCorpusRun(t *testing.T, s *server) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	secret := readSecret(t, filepath.Join(s.dataDir, "enroll-secret"))

	// A policy only agents evaluate, so a host's evidence is its own.
	dir := t.TempDir()
	polFile := filepath.Join(dir, "corpus.yaml")
	writeFile(t, polFile, "policies:\n  - id: corpus-marker\n    title: Corpus marker file\n    severity: low\n"+
		"    check:\n      file: {path: /etc/steward-corpus-marker, exists: true}\n")
	var applied struct {
		Revision uint64 `json:"revision"`
	}
	if err := json.Unmarshal([]byte(s.ctl(t, "-o", "json", "policies", "apply", "-f", polFile)), &applied); err != nil || applied.Revision == 0 {
		t.Fatalf("policies apply -o json: revision %d, %v", applied.Revision, err)
	}

	client := &http.Client{Timeout: 30 * time.Second}
	hosts := make([]*corpusHost, len(injectionCorpus))
	for i, v := range injectionCorpus {
		h := &corpusHost{v: v, sections: map[string]json.RawMessage{}}
		// The enrollment request's body is bounded; the 64 KiB value comes
		// in hello and the inventory instead.
		enrollAs := v
		if len(v) > 4<<10 {
			enrollAs = fmt.Sprintf("corpus-%d", i)
		}
		a, err := loadgen.EnrollDurable(ctx, client, s.url, secret, enrollAs)
		if err != nil {
			t.Fatalf("corpus value %d: %v", i, err)
		}
		a.Hello.Hostname = v
		a.Hello.OS, a.Hello.Arch, a.Hello.AgentVersion = v, v, v
		if err := a.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		inv := wire.Inventory{CollectedAt: time.Now().UTC(), Errors: map[string]string{}}
		hashes := map[string]string{}
		for _, name := range inventory.SectionNames {
			data, err := inventory.Canonical(filled(sectionValue(t, name), v))
			if err != nil {
				t.Fatal(err)
			}
			h.sections[name] = data
			hashes[name] = inventory.Hash(data)
			inv.Sections = append(inv.Sections, wire.Section{Name: name, Hash: hashes[name], Data: data})
			inv.Errors[name] = v
		}
		inv.Digest = inventory.Digest(hashes)
		if _, err := a.Send(ctx, wire.TypeInventory, inv); err != nil {
			t.Fatal(err)
		}
		// A second inventory changes the software, so the history has
		// hostile subjects and values too.
		sw := filled(&inventory.Software{}, v+"-2")
		data, _ := inventory.Canonical(sw)
		h.sections[inventory.SectionSoftware] = data
		hashes[inventory.SectionSoftware] = inventory.Hash(data)
		second := wire.Inventory{CollectedAt: time.Now().UTC(), Digest: inventory.Digest(hashes), Errors: inv.Errors,
			Sections: []wire.Section{{Name: inventory.SectionSoftware, Hash: hashes[inventory.SectionSoftware], Data: data}}}
		if _, err := a.Send(ctx, wire.TypeInventory, second); err != nil {
			t.Fatal(err)
		}
		h.evidence = v
		if len(v) > policy.MaxEvidenceBytes {
			h.evidence = v[:policy.MaxEvidenceBytes]
		}
		res := wire.Results{Revision: applied.Revision, Results: []policy.Result{{PolicyID: "corpus-marker",
			Status: policy.StatusFail, CheckedAt: time.Now(), Duration: time.Millisecond,
			Evidence: []policy.Evidence{{Check: "check.file", Passed: false, Detail: h.evidence}}}}}
		if _, err := a.Send(ctx, wire.TypeResults, res); err != nil {
			t.Fatal(err)
		}
		if err := a.Drain(ctx); err != nil {
			t.Fatalf("corpus value %d: not acknowledged: %v", i, err)
		}
		h.id = a.HostID
		a.Close()
		hosts[i] = h
	}

	// Stored exactly: the inventory API returns the sections and errors
	// byte for byte; the host's indexed columns hold the value as the
	// store documents it (no NUL, at most 512 bytes).
	for i, h := range hosts {
		var inv struct {
			Sections map[string]json.RawMessage `json:"sections"`
			Errors   map[string]string          `json:"errors"`
		}
		if code := s.get(t, fmt.Sprintf("/api/v1/hosts/%d/inventory", h.id), &inv); code != 200 {
			t.Fatalf("inventory of host %d: HTTP %d", h.id, code)
		}
		for name, want := range h.sections {
			// The API returns each section byte for byte as it was sent
			// and hashed (no HTML escaping of < > &).
			got := inv.Sections[name]
			if string(got) != string(want) {
				t.Errorf("corpus value %d: section %s is not stored exactly:\n got %.200q\nwant %.200q", i, name, got, want)
			}
			if inv.Errors[name] != h.v {
				t.Errorf("corpus value %d: collect error of %s is %.80q", i, name, inv.Errors[name])
			}
		}
		var host struct {
			Hostname string `json:"hostname"`
		}
		s.get(t, fmt.Sprintf("/api/v1/hosts/%d", h.id), &host)
		if want := storedText(h.v); host.Hostname != want {
			t.Errorf("corpus value %d: hostname %.80q, want %.80q", i, host.Hostname, want)
		}
	}

	// The database still works: every host listed, a search by a hostile
	// name finds its host.
	var list struct {
		Hosts []json.RawMessage `json:"hosts"`
	}
	if code := s.get(t, "/api/v1/hosts?limit=1000", &list); code != 200 || len(list.Hosts) != len(hosts) {
		t.Fatalf("GET /api/v1/hosts: HTTP %d, %d hosts, want %d", code, len(list.Hosts), len(hosts))
	}

	// Every stewardctl output format prints it inert.
	type ctlCase struct {
		args  []string
		lines int      // table lines; 0: not checked
		want  []string // values -o json must carry exactly
	}
	all, evidence := make([]string, len(hosts)), make([]string, len(hosts))
	for i, h := range hosts {
		all[i], evidence[i] = storedText(h.v), h.evidence
	}
	cases := []ctlCase{
		{args: []string{"hosts", "list"}, lines: len(hosts) + 1, want: all},
		{args: []string{"policies", "results", "corpus-marker"}, lines: len(hosts) + 1, want: evidence},
	}
	for _, h := range hosts {
		id := itoa(h.id)
		// Changes are recorded on the stored (cut) names: a change beyond
		// the 512th byte is none.
		var changed []string
		if name := h.v + "-2"; len(name) <= 512 {
			changed = []string{storedText(name)}
		}
		cases = append(cases,
			ctlCase{args: []string{"hosts", "show", id}, want: []string{h.v}},
			ctlCase{args: []string{"hosts", "changes", id}, want: changed},
		)
		if name := storedText(h.v + "-2"); name == h.v+"-2" {
			cases = append(cases, ctlCase{args: []string{"software", "search", "--", name}, lines: 2, want: []string{h.v + "-2"}})
		}
	}
	for _, c := range cases {
		name := strings.Join(c.args, " ")
		table := s.ctl(t, c.args...)
		if what, ok := terminalInert(table); !ok {
			t.Errorf("stewardctl %.60q: table output holds %s", name, what)
		}
		if n := strings.Count(table, "\n"); c.lines > 0 && n != c.lines {
			t.Errorf("stewardctl %.60q: %d table lines, want %d (a forged or lost row):\n%.3000s", name, n, c.lines, table)
		}
		for _, line := range strings.Split(table, "\n") {
			if len(line) > 16<<10 {
				t.Errorf("stewardctl %.60q: a %d-byte line: long cells are not cut", name, len(line))
			}
		}
		raw := s.ctl(t, append([]string{"-o", "json"}, c.args...)...)
		if what, ok := terminalInert(raw); !ok {
			t.Errorf("stewardctl -o json %.60q: output holds %s", name, what)
		}
		var doc any
		if err := json.Unmarshal([]byte(raw), &doc); err != nil {
			t.Errorf("stewardctl -o json %.60q: not JSON: %v", name, err)
			continue
		}
		found := map[string]bool{}
		jsonStrings(doc, found)
		for _, v := range c.want {
			if !found[v] {
				t.Errorf("stewardctl -o json %.60q: the exact value %.60q is missing", name, v)
			}
		}
	}
}

// storedText is what the store keeps of agent text in an indexed column:
// no NUL bytes, valid UTF-8, at most 512 bytes cut on a rune boundary.
func storedText(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= 512 {
		return s
	}
	cut := 512
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// terminalInert reports the first rune in out a terminal would act on
// (newlines apart): C0 and C1 controls, DEL, separators, format
// characters, bytes that are not UTF-8.
func terminalInert(out string) (string, bool) {
	for i, r := range out {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(out[i:], "\uFFFD"):
			return fmt.Sprintf("a byte that is not UTF-8 at %d", i), false
		case r == '\n':
		case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, r == '\u2028', r == '\u2029', unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("%U at byte %d", r, i), false
		}
	}
	return "", true
}

func jsonStrings(v any, into map[string]bool) {
	switch v := v.(type) {
	case string:
		into[v] = true
	case []any:
		for _, e := range v {
			jsonStrings(e, into)
		}
	case map[string]any:
		for k, e := range v {
			into[k] = true
			jsonStrings(e, into)
		}
	}
}

// sectionValue is a new value of the section's type.
func sectionValue(t *testing.T, name string) any {
	t.Helper()
	switch name {
	case inventory.SectionHost:
		return &inventory.Host{}
	case inventory.SectionOS:
		return &inventory.OS{}
	case inventory.SectionCPU:
		return &inventory.CPU{}
	case inventory.SectionMemory:
		return &inventory.Memory{}
	case inventory.SectionDisks:
		return &inventory.Disks{}
	case inventory.SectionNetwork:
		return &inventory.Network{}
	case inventory.SectionSoftware:
		return &inventory.Software{}
	case inventory.SectionServices:
		return &inventory.Services{}
	case inventory.SectionUsers:
		return &inventory.Users{}
	case inventory.SectionPorts:
		return &inventory.Ports{}
	}
	t.Fatalf("section %q has no type here: add it", name)
	return nil
}

// filled sets every string of v (a pointer to a struct), in nested
// structs, one-element slices, maps and pointers alike, to s; numbers to
// 1, booleans to true, times to a fixed instant. It returns v.
func filled(v any, s string) any {
	fill(reflect.ValueOf(v).Elem(), s)
	return v
}

var fixedTime = reflect.TypeOf(time.Time{})

func fill(v reflect.Value, s string) {
	if v.Type() == fixedTime {
		v.Set(reflect.ValueOf(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), s)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, s)
		fill(e, s)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), s)
			}
		}
	}
}

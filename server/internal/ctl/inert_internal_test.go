package ctl

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscapeText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"web-1.example.com", "web-1.example.com"},
		{"café 日本 ü", "café 日本 ü"},
		{`C:\Program Files`, `C:\Program Files`},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"\x1b]0;owned\x07", `\x1b]0;owned\x07`},
		{"\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\", `\x1b]8;;https://evil.example/\x1b\click\x1b]8;;\x1b\`},
		{"a\u009b31mb", `a\u009b31mb`},
		{"a\u0085b", `a\u0085b`},
		{"bell\a back\b del\x7f nul\x00", `bell\x07 back\x08 del\x7f nul\x00`},
		{"one\r\ntwo\tthree", `one\r\ntwo\tthree`},
		{"\u202egnp.exe", `\u202egnp.exe`},
		{"\u2066x\u2069 \u200e\u200f\u061c", `\u2066x\u2069 \u200e\u200f\u061c`},
		{"zero\u200bwidth\ufeff", `zero\u200bwidth\ufeff`},
		{"line\u2028para\u2029", `line\u2028para\u2029`},
		{"tag\U000E0041", `tag\U000e0041`},
		{"bad\xff\xfeutf8", `bad\xff\xfeutf8`},
	}
	for _, c := range cases {
		if got := escapeText(c.in, false); got != c.want {
			t.Errorf("escapeText(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := escapeText(c.in, false); !inert(got) {
			t.Errorf("escapeText(%q) = %q is not inert", c.in, got)
		}
	}
	if got := escapeText("a\tb\nc\x1b", true); got != "a\tb\nc\\x1b" {
		t.Errorf("escapeText with layout = %q", got)
	}
}

// inert reports whether s holds nothing a terminal acts on but newlines.
func inert(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return false
		}
		if r != '\n' && unsafeRune(r) {
			return false
		}
	}
	return true
}

func TestCellTextCutsLongValues(t *testing.T) {
	long := strings.Repeat("x", 64<<10)
	got := cellText(long)
	if n := utf8.RuneCountInString(got); n > maxCellRunes+40 {
		t.Errorf("a 64 KiB cell is %d runes long", n)
	}
	if !strings.HasSuffix(got, "...[cut: 65536 bytes in all]") {
		t.Errorf("cut cell has no visible marker: ...%q", got[len(got)-40:])
	}
	// Escapes are counted as shown, and never cut in half of a rune.
	got = cellText(strings.Repeat("é\x1b", 1000))
	if !utf8.ValidString(got) || !strings.Contains(got, "...[cut: 3000 bytes in all]") {
		t.Errorf("cut of a multibyte value = %q", got)
	}
	if got := cellText(strings.Repeat("y", maxCellRunes)); got != strings.Repeat("y", maxCellRunes) {
		t.Errorf("a value of exactly maxCellRunes was cut: %q", got)
	}
}

func TestTableRowsStayRows(t *testing.T) {
	var b bytes.Buffer
	tw := newTable(&b)
	tw.row("ID", "HOSTNAME", "SERIAL")
	tw.row(1, "evil\n2\tforged-host\tFORGED", "s\r\x1b[2K")
	tw.row(2, strings.Repeat("h", 64<<10), "ok")
	if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if n := strings.Count(out, "\n"); n != 3 {
		t.Fatalf("3 rows printed as %d lines:\n%.300q", n, out)
	}
	if !inert(out) {
		t.Errorf("table output is not inert: %.300q", out)
	}
	if !strings.Contains(out, `evil\n2\tforged-host\tFORGED`) {
		t.Errorf("escaped cell missing:\n%.300q", out)
	}
}

func TestPrintfEscapesArguments(t *testing.T) {
	var b bytes.Buffer
	printf(&b, "Alert %d on %s.\n", 7, "host\n\x1b[1mForged line")
	if got, want := b.String(), "Alert 7 on host\\n\\x1b[1mForged line.\n"; got != want {
		t.Errorf("printf = %q, want %q", got, want)
	}
}

func TestInertWriter(t *testing.T) {
	var b bytes.Buffer
	w := newInertWriter(&b)
	// A rune split over two writes is judged whole.
	w.Write([]byte("a\xe2\x80"))
	w.Write([]byte("\xae b \xc3"))
	w.Write([]byte("\xa9\n\tok\x1b[0m\x9b"))
	w.Write([]byte("end\xe2\x80"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "a\\u202e b é\n\tok\\x1b[0m\\x9bend\\xe2\\x80"
	if got := b.String(); got != want {
		t.Errorf("inertWriter wrote %q, want %q", got, want)
	}
}

func TestEscapeJSONTextRoundTrips(t *testing.T) {
	in := map[string]string{
		"k\u202e": "\x1b[31m\u009b\u0085\x7f\x00\u2028\u2029\u2066\ufeff\U000E0041<script>&'\"\\",
	}
	raw, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got := escapeJSONText(string(raw))
	if !inert(got) {
		t.Errorf("escaped JSON is not inert: %q", got)
	}
	var back map[string]string
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("escaped JSON does not decode: %v\n%s", err, got)
	}
	if len(back) != 1 || back["k\u202e"] != in["k\u202e"] {
		t.Errorf("round trip changed the data: %q", back)
	}
}

package ctl

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Much of what stewardctl prints was written by agents: hostnames,
// serials, package names, evidence, collect errors, labels. None of it may
// act on the terminal that shows it. Two layers see to that:
//
//   - every value that goes into a table cell or a message line is
//     escaped (escapeText) before it is laid out, so it cannot break a
//     row or a column, and a table cell is cut to maxCellRunes;
//   - everything a command writes passes through an inertWriter (Run wraps
//     stdout and stderr), which escapes, whoever wrote them, the bytes a
//     terminal would act on, keeping only the newlines and tabs of the
//     layout.
//
// Table output escapes a value in the style of a Go string literal: \x1b,
// \r, \n, \t, \u009b, \u202e, \U000e0041, and \xff for a byte that is not
// UTF-8. Backslashes themselves are kept as they are (Windows paths stay
// readable), so -o json is the form to read when the exact bytes matter.
// JSON output keeps the data exact; the runes a terminal would act on are
// written as \u escapes, which every JSON decoder turns back into them.

// maxCellRunes bounds a table cell; -o json has the value whole.
const maxCellRunes = 256

// unsafeRune reports whether printing r raw could move the cursor, change
// the terminal's state, reorder or hide text: C0 and C1 controls, DEL, the
// line and paragraph separators, and format characters (bidi embeddings,
// overrides and isolates, marks, zero-width characters, the BOM, tags).
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f:
		return true
	case r >= 0x80 && r <= 0x9f:
		return true
	case r == '\u2028', r == '\u2029':
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// escapeText returns s with every unsafe rune, and every byte that is not
// UTF-8, escaped. keepLayout keeps newlines and tabs: for whole lines of
// output, never for values.
func escapeText(s string, keepLayout bool) string {
	if isInert(s, keepLayout) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	appendEscaped(&b, s, keepLayout)
	return b.String()
}

func isInert(s string, keepLayout bool) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		if keepLayout && (c == '\n' || c == '\t') {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) || unsafeRune(r) {
			return false
		}
		i += size
	}
	return true
}

func appendEscaped(b *strings.Builder, s string, keepLayout bool) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(b, `\x%02x`, s[i])
		case keepLayout && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(b, `\x%02x`, r)
		case r <= 0xffff && unsafeRune(r):
			fmt.Fprintf(b, `\u%04x`, r)
		case unsafeRune(r):
			fmt.Fprintf(b, `\U%08x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
}

// cellText is a value as a table shows it: escaped, and cut to
// maxCellRunes with a marker that says how long it was.
func cellText(s string) string {
	e := escapeText(s, false)
	if utf8.RuneCountInString(e) <= maxCellRunes {
		return e
	}
	n := 0
	for i := range e {
		if n == maxCellRunes {
			return e[:i] + "...[cut: " + strconv.Itoa(len(s)) + " bytes in all]"
		}
		n++
	}
	return e
}

// table lays out rows in aligned columns. It is the only way commands
// print tables: it has no Write method, so every value reaches it as a
// cell and is escaped and bounded (cellText) before the layout sees it.
type table struct {
	w    io.Writer
	rows [][]string // the values, unescaped until Flush
	// csv: -o csv is on (csv.go); the rows are written as CSV records.
	csv *csvSink
	// details: kv rows, a details view rather than a list.
	details bool
}

func newTable(w io.Writer) *table {
	t := &table{w: w}
	if cs, ok := w.(*csvSink); ok {
		t.csv = cs
	}
	return t
}

// row adds a row. Strings, errors and Stringers are cells as cellText
// makes them; numbers and other values are formatted with %v, then
// escaped too. Escaping happens in Flush, which knows the format.
func (t *table) row(cells ...any) {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = valueText(c)
	}
	t.rows = append(t.rows, out)
}

// kv adds a "Key:  value" row of a details view; key is the program's
// own text.
func (t *table) kv(key string, value any) {
	t.details = true
	t.row(key+":", value)
}

func valueText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

// Flush writes the rows in aligned columns, two spaces apart. The cells
// hold no tabs or newlines any more, so the layout is the program's alone.
//
// With -o csv the rows are CSV records instead (csv.go).
func (t *table) Flush() error {
	if t.csv != nil {
		rows := t.rows
		t.rows = nil
		return t.csv.writeTable(rows, t.details)
	}
	tw := tabwriter.NewWriter(t.w, 0, 4, 2, ' ', 0)
	cells := []string{}
	for _, r := range t.rows {
		cells = cells[:0]
		for _, c := range r {
			cells = append(cells, cellText(c))
		}
		io.WriteString(tw, strings.Join(cells, "\t")+"\n")
	}
	t.rows = nil
	return tw.Flush()
}

// printf writes a message line: format is the program's own text, and
// every string, error or Stringer argument is escaped as a table cell is
// (not cut), so a value cannot start a line of its own or act on the
// terminal.
func printf(w io.Writer, format string, args ...any) error {
	esc := make([]any, len(args))
	for i, a := range args {
		switch a.(type) {
		case string, error, fmt.Stringer:
			esc[i] = escapeText(valueText(a), false)
		default:
			esc[i] = a
		}
	}
	_, err := fmt.Fprintf(w, format, esc...)
	return err
}

// inertWriter escapes whatever reaches it that a terminal would act on,
// keeping newlines and tabs. A UTF-8 sequence split across two writes is
// held until it is complete; Flush escapes what is held at the end.
//
// JSON output reaches it already escaped (printJSON), so it passes
// unchanged.
type inertWriter struct {
	w    io.Writer
	held []byte
}

func newInertWriter(w io.Writer) *inertWriter { return &inertWriter{w: w} }

func (iw *inertWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(iw.held) > 0 {
		p = append(iw.held, p...)
		iw.held = nil
	}
	// Hold back an incomplete sequence at the end.
	if k := incompleteTail(p); k > 0 {
		iw.held = append([]byte(nil), p[len(p)-k:]...)
		p = p[:len(p)-k]
	}
	if _, err := io.WriteString(iw.w, escapeText(string(p), true)); err != nil {
		return 0, err
	}
	return n, nil
}

// Flush writes what is held, escaped.
func (iw *inertWriter) Flush() error {
	if len(iw.held) == 0 {
		return nil
	}
	s := escapeText(string(iw.held), true)
	iw.held = nil
	_, err := io.WriteString(iw.w, s)
	return err
}

// incompleteTail returns the length of a UTF-8 sequence at the end of p
// that more bytes could complete, or 0.
func incompleteTail(p []byte) int {
	for k := 1; k <= utf8.UTFMax-1 && k <= len(p); k++ {
		c := p[len(p)-k]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(p[len(p)-k:]) {
				return k
			}
			return 0
		}
	}
	return 0
}

// escapeJSONText escapes the unsafe runes of JSON text as \u escapes
// (surrogate pairs above U+FFFF); bytes that are not UTF-8 become \ufffd,
// as encoding/json writes them. In valid JSON these runes can only stand
// inside strings, where the escapes decode back to them.
func escapeJSONText(s string) string {
	if isInert(s, true) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteString(`\ufffd`)
		case r == '\n' || r == '\t' || !unsafeRune(r):
			b.WriteString(s[i : i+size])
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

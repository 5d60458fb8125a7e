package ctl

import (
	"encoding/csv"
	"errors"
	"io"
	"regexp"
)

// -o csv writes what a command would print as its table as CSV records
// (encoding/csv: RFC 4180 quoting, records ending in a line feed), the
// table's header row first, so every list command has CSV output without
// code of its own:
//
//   - session.out is a *csvSink; newTable sees it and the table's Flush
//     hands its rows to writeTable instead of laying them out;
//   - anything a command writes to session.out directly (notes such as
//     "Policy set revision 7.") goes to stderr, so stdout holds only CSV;
//   - a details view (table.kv) or a second table is refused: -o csv is
//     for commands that print one list.
//
// Cells are escaped as the table escapes them (escapeText: \x1b, \n, \t,
// \u202e...), so the CSV is as inert on a terminal as the table, but they
// are not cut at maxCellRunes. Empty values stay as the table shows them
// ("-"). A cell that a spreadsheet would run as a formula, one starting
// with =, +, -, or @, gets a leading single quote, except "-" alone and
// plain decimal numbers such as -5 or -0.25.
type csvSink struct {
	out   io.Writer // stdout
	notes io.Writer // stderr
	// tables counts the tables written; a second one is refused.
	tables int
}

// errCSVNotAList is what a command that prints no single list answers to
// -o csv.
var errCSVNotAList = errors.New("-o csv is for commands that print a list; use -o table or -o json")

// Write takes what a command prints beside its table and passes it to
// stderr.
func (c *csvSink) Write(p []byte) (int, error) { return c.notes.Write(p) }

func (c *csvSink) writeTable(rows [][]string, details bool) error {
	if details {
		return &usageError{msg: errCSVNotAList.Error()}
	}
	if c.tables++; c.tables > 1 {
		return &usageError{msg: errCSVNotAList.Error()}
	}
	w := csv.NewWriter(c.out)
	rec := []string{}
	for _, r := range rows {
		rec = rec[:0]
		for _, v := range r {
			rec = append(rec, csvCell(v))
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// plainNumber is a cell that starts with "-" and is still no formula.
var plainNumber = regexp.MustCompile(`^-[0-9]+(\.[0-9]+)?$`)

// csvCell is a value as a CSV cell: escaped as in a table, with a quote
// in front of what a spreadsheet would take for a formula.
func csvCell(v string) string {
	e := escapeText(v, false)
	if e == "" || e == "-" || plainNumber.MatchString(e) {
		return e
	}
	switch e[0] {
	case '=', '+', '-', '@':
		return "'" + e
	}
	return e
}

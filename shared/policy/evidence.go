package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Evidence size limits: results travel to the server on every change and
// are stored with their history, so one chatty policy must not bloat them.
const (
	// MaxDetailBytes caps one Evidence.Detail.
	MaxDetailBytes = 512
	// MaxEvidenceBytes caps the Check and Detail text of one result's
	// evidence together.
	MaxEvidenceBytes = 8 << 10
)

// truncatedMarker ends a Detail that was cut.
const truncatedMarker = "…[truncated]"

// evidenceReserve keeps room under MaxEvidenceBytes for the entry that
// says how many were dropped.
const evidenceReserve = 96

// evidenceList accumulates evidence within the caps.
type evidenceList struct {
	items   []Evidence
	size    int
	dropped int
}

func (l *evidenceList) add(e Evidence) {
	e.Detail = truncate(e.Detail, MaxDetailBytes)
	n := len(e.Check) + len(e.Detail)
	if l.dropped > 0 || l.size+n > MaxEvidenceBytes-evidenceReserve {
		l.dropped++
		return
	}
	l.items = append(l.items, e)
	l.size += n
}

func (l *evidenceList) list() []Evidence {
	if l.dropped == 0 {
		return l.items
	}
	return append(l.items, Evidence{
		Check:  "evidence",
		Detail: fmt.Sprintf("%s %d more evidence entries left out (over %d bytes)", truncatedMarker, l.dropped, MaxEvidenceBytes),
	})
}

// truncate cuts s to at most limit bytes on a rune boundary, ending it
// with truncatedMarker when it was cut.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit - len(truncatedMarker)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedMarker
}

// quoteLine shows a line of content in evidence: trimmed, control
// characters escaped, at most 160 bytes.
func quoteLine(line []byte) string {
	s := strings.TrimRight(string(line), "\r\n")
	if len(s) > 160 {
		s = truncate(s, 160)
	}
	return fmt.Sprintf("%q", s)
}

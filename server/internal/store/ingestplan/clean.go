package ingestplan

import (
	"strings"
	"unicode/utf8"
)

// MaxField bounds the agent-reported text that lands in indexed columns:
// PostgreSQL refuses btree entries over about 2,700 bytes, and one odd
// report must not fail a batch.
const MaxField = 512

// Clean makes agent-reported text fit for an indexed text column in either
// database: no NUL bytes and valid UTF-8 (PostgreSQL text refuses both),
// at most MaxField bytes, cut on a rune boundary.
func Clean(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= MaxField {
		return s
	}
	cut := MaxField
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

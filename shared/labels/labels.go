// Package labels checks host labels: the key=value pairs admins put on
// hosts (through the API, or in the agent's configuration at enrollment)
// and that exemptions, alert rules and dashboards select hosts by.
package labels

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLabels is the most labels one host may carry.
const MaxLabels = 64

// key is what a label key may look like: short, no spaces, so that
// "key=value" on a command line is unambiguous.
var key = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$`)

// Check returns what is wrong with labels, or nil.
func Check(labels map[string]string) error {
	if len(labels) > MaxLabels {
		return fmt.Errorf("%d labels: at most %d", len(labels), MaxLabels)
	}
	for k, v := range labels {
		if !key.MatchString(k) {
			return fmt.Errorf("label key %q: want 1 to 63 letters, digits, '.', '_', '/' or '-', starting with a letter or digit", k)
		}
		if len(v) > 255 || !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
			return fmt.Errorf("label %s: value must be at most 255 bytes of printable UTF-8", k)
		}
	}
	return nil
}

// Parse reads "k=v,k2=v2" (as command lines give labels) and checks the
// result. An empty string is no labels.
func Parse(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return nil, fmt.Errorf("label %q: want key=value", pair)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("label %s given twice", k)
		}
		out[k] = v
	}
	return out, Check(out)
}

package collect

import (
	"os"
	"strings"
)

// readTrim returns a small file's content without surrounding white space,
// or "" when it cannot be read. Used for optional single-value files
// (sysfs attributes, machine-id) whose absence is normal.
func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// firmwarePlaceholder reports values that vendors ship in DMI fields they
// never filled in; reporting them would make unrelated machines look alike.
func firmwarePlaceholder(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "to be filled by o.e.m.", "default string", "system serial number",
		"system product name", "system manufacturer", "not specified", "not applicable",
		"none", "n/a", "0", "00000000", "0123456789", "123456789", "o.e.m.", "oem",
		"chassis serial number", "invalid", "unknown",
		"03000200-0400-0500-0006-000700080009", "00000000-0000-0000-0000-000000000000",
		"ffffffff-ffff-ffff-ffff-ffffffffffff":
		return true
	}
	return false
}

// firmwareValue returns v unless it is a placeholder.
func firmwareValue(v string) string {
	if firmwarePlaceholder(v) {
		return ""
	}
	return v
}

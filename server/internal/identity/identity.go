package identity

import (
	"strings"
)

// placeholderUUIDs are values firmware writes when the vendor never set a
// UUID; thousands of unrelated boards share them. Values made of one
// repeated hex digit (all zeros, all f) are refused separately. The second
// entry is the first with its leading fields byte-swapped, as SMBIOS 2.6
// and later lay them out.
var placeholderUUIDs = map[string]bool{
	"03000200-0400-0500-0006-000700080009": true,
	"00020003-0004-0005-0006-000700080009": true,
	"12345678-1234-5678-90ab-cddeefaabbcc": true,
}

// HardwareUUID returns a SMBIOS/platform UUID lower-cased in 8-4-4-4-12
// form, or "" when it is missing, not a UUID, or a placeholder. Braces and
// missing dashes are accepted, so Windows' "{...}" and Linux's lower-case
// spelling of one UUID agree.
func HardwareUUID(s string) string {
	hex, ok := uuidHex(s)
	if !ok || oneDigit(hex) {
		return ""
	}
	u := hex[0:8] + "-" + hex[8:12] + "-" + hex[12:16] + "-" + hex[16:20] + "-" + hex[20:32]
	if placeholderUUIDs[u] {
		return ""
	}
	return u
}

// uuidHex returns the 32 lower-case hex digits of a UUID written with or
// without dashes and braces.
func uuidHex(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if len(s) == 36 {
		for _, i := range []int{8, 13, 18, 23} {
			if s[i] != '-' {
				return "", false
			}
		}
		s = strings.ReplaceAll(s, "-", "")
	}
	if len(s) != 32 {
		return "", false
	}
	s = strings.ToLower(s)
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return "", false
		}
	}
	return s, true
}

// MachineID returns an OS installation id (/etc/machine-id, Windows'
// MachineGuid) trimmed and lower-cased, or "" when it is missing, all
// zeros, or systemd's "uninitialized" (an image not booted yet).
func MachineID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "uninitialized" {
		return ""
	}
	if hex, ok := uuidHex(s); ok && oneDigit(hex) {
		return ""
	}
	if s != "" && strings.Trim(s, "0-{}") == "" {
		return ""
	}
	return s
}

// placeholderSerials are what firmware reports when no serial number was
// set, compared case-insensitively.
var placeholderSerials = map[string]bool{
	"0": true, "none": true, "n/a": true, "na": true, "null": true, "unknown": true,
	"not specified": true, "not applicable": true, "not available": true,
	"to be filled by o.e.m.": true, "default string": true, "oem": true,
	"system serial number": true, "chassis serial number": true, "serial": true,
	"0123456789": true, "123456789": true, "1234567890": true, "invalid": true,
}

// Serial returns a serial number trimmed, or "" when it is missing, a known
// placeholder, or one character repeated ("0000000", "xxxxxx").
func Serial(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || placeholderSerials[strings.ToLower(s)] || oneChar(strings.ToLower(s)) {
		return ""
	}
	return s
}

func isHex(c byte) bool { return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') }

func oneDigit(hex string) bool { return oneChar(hex) }

// oneChar reports whether s is one byte repeated (at least twice).
func oneChar(s string) bool {
	return len(s) > 1 && strings.Count(s, s[:1]) == len(s)
}

package wininv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// .reg files are what `reg export` and regedit write, the form in which an
// admin can hand us a real machine's registry. Version 5 files ("Windows
// Registry Editor Version 5.00") are UTF-16LE with a byte order mark and
// CRLF line ends; REGEDIT4 files are in the ANSI code page. A line looks
// like one of:
//
//	[HKEY_LOCAL_MACHINE\SOFTWARE\Vendor]     a key (created if missing)
//	[-HKEY_LOCAL_MACHINE\SOFTWARE\Vendor]    delete a key
//	"Name"="text"                            REG_SZ, with \\ and \" escapes
//	@="text"                                 the key's default value
//	"Name"=dword:0000002a                    REG_DWORD, 8 hex digits
//	"Name"=hex:01,02                         REG_BINARY
//	"Name"=hex(2):43,00,3a,00,00,00          any type by number; here REG_EXPAND_SZ
//	"Name"=-                                 delete a value
//	; comment
//
// Long hex data is wrapped: a line ending in a backslash continues on the
// next one, which regedit indents by two spaces.

// ErrRegFormat is wrapped by every error about the content of a .reg file.
var ErrRegFormat = errors.New("not a valid .reg file")

const (
	regHeader5 = "Windows Registry Editor Version 5.00"
	regHeader4 = "REGEDIT4"
)

// ParseReg reads a .reg file into a tree whose root has the hive names
// (HKEY_LOCAL_MACHINE, HKEY_USERS, ...) as subkeys.
func ParseReg(data []byte) (*Key, error) {
	text := regText(data)
	lines := strings.Split(text, "\n")
	root := NewKey("")
	var cur *Key
	ansi := false
	header := false
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		line := strings.TrimRight(lines[i], "\r")
		for strings.HasSuffix(strings.TrimRight(line, " \t"), `\`) && !strings.HasPrefix(line, "[") && i+1 < len(lines) {
			line = strings.TrimSuffix(strings.TrimRight(line, " \t"), `\`)
			i++
			line += strings.TrimLeft(strings.TrimRight(lines[i], "\r"), " \t")
		}
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, ";"):
			continue
		case !header:
			switch trimmed {
			case regHeader5:
			case regHeader4:
				ansi = true
			default:
				return nil, fmt.Errorf("line %d: missing header %q: %w", lineNo, regHeader5, ErrRegFormat)
			}
			header = true
		case strings.HasPrefix(trimmed, "["):
			k, err := regKeyLine(root, trimmed)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
			cur = k
		default:
			if cur == nil {
				return nil, fmt.Errorf("line %d: value outside any key: %w", lineNo, ErrRegFormat)
			}
			if err := regValueLine(cur, trimmed, ansi); err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
		}
	}
	if !header {
		return nil, fmt.Errorf("empty file: %w", ErrRegFormat)
	}
	return root, nil
}

// regText decodes the file to a Go string: UTF-16LE when it starts with
// that byte order mark (or looks like UTF-16LE without one), otherwise
// UTF-8, falling back to Latin-1 for REGEDIT4 files in an ANSI code page.
func regText(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		return decodeUTF16All(data[2:])
	case bytes.HasPrefix(data, []byte{0xef, 0xbb, 0xbf}):
		data = data[3:]
	case len(data) >= 2 && data[0] != 0 && data[1] == 0:
		return decodeUTF16All(data)
	}
	if utf8.Valid(data) {
		return string(data)
	}
	return latin1(data)
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func regKeyLine(root *Key, line string) (*Key, error) {
	if !strings.HasSuffix(line, "]") {
		return nil, fmt.Errorf("key line without closing bracket: %w", ErrRegFormat)
	}
	path := line[1 : len(line)-1]
	if del, ok := strings.CutPrefix(path, "-"); ok {
		parent, name := splitParent(del)
		root.Lookup(parent).deleteChild(name)
		// Values listed under a deleted key are ignored, as regedit does:
		// they go to a key that belongs to no tree.
		return NewKey(name), nil
	}
	if strings.Trim(path, `\`) == "" {
		return nil, fmt.Errorf("empty key path: %w", ErrRegFormat)
	}
	k := root
	for _, part := range strings.Split(path, `\`) {
		if part != "" {
			k = k.Child(part)
		}
	}
	return k, nil
}

func splitParent(path string) (parent, name string) {
	path = strings.TrimRight(path, `\`)
	i := strings.LastIndexByte(path, '\\')
	if i < 0 {
		return "", path
	}
	return path[:i], path[i+1:]
}

func regValueLine(k *Key, line string, ansi bool) error {
	var name, rest string
	if r, ok := strings.CutPrefix(line, "@"); ok {
		rest = r
	} else {
		n, r, err := regQuoted(line)
		if err != nil {
			return fmt.Errorf("value name: %w", err)
		}
		name, rest = n, r
	}
	rest = strings.TrimSpace(rest)
	data, ok := strings.CutPrefix(rest, "=")
	if !ok {
		return fmt.Errorf("value %q: missing '=': %w", name, ErrRegFormat)
	}
	data = strings.TrimSpace(data)
	if data == "-" {
		k.deleteValue(name)
		return nil
	}
	v, err := regData(data, ansi)
	if err != nil {
		return fmt.Errorf("value %q: %w", name, err)
	}
	k.SetValue(name, v)
	return nil
}

// regQuoted reads a double-quoted string at the start of s, undoing the
// \\ and \" escapes, and returns it with the rest of s.
func regQuoted(s string) (string, string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("expected '\"': %w", ErrRegFormat)
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '"') {
				i++
				b.WriteByte(s[i])
				continue
			}
			b.WriteByte(c)
		case '"':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated string: %w", ErrRegFormat)
}

func regData(data string, ansi bool) (Value, error) {
	switch {
	case strings.HasPrefix(data, `"`):
		s, rest, err := regQuoted(data)
		if err != nil {
			return Value{}, err
		}
		if strings.TrimSpace(rest) != "" {
			return Value{}, fmt.Errorf("text after string: %w", ErrRegFormat)
		}
		return StringValue(s), nil
	case strings.HasPrefix(data, "dword:"):
		hex := strings.TrimPrefix(data, "dword:")
		n, err := strconv.ParseUint(hex, 16, 32)
		if err != nil || len(hex) != 8 {
			return Value{}, fmt.Errorf("dword %q: %w", hex, ErrRegFormat)
		}
		return DWORDValue(uint32(n)), nil
	case strings.HasPrefix(data, "hex:"):
		b, err := regHexBytes(strings.TrimPrefix(data, "hex:"))
		return Value{Type: RegBinary, Data: b}, err
	case strings.HasPrefix(data, "hex("):
		typ, bytesText, ok := strings.Cut(strings.TrimPrefix(data, "hex("), "):")
		t, err := strconv.ParseUint(typ, 16, 32)
		if !ok || err != nil {
			return Value{}, fmt.Errorf("hex type %q: %w", typ, ErrRegFormat)
		}
		b, err := regHexBytes(bytesText)
		if err != nil {
			return Value{}, err
		}
		if ansi && (t == RegSZ || t == RegExpandSZ || t == RegMultiSZ) {
			b = ansiToUTF16(b) // REGEDIT4 stores text types in the ANSI code page
		}
		return Value{Type: uint32(t), Data: b}, nil
	}
	return Value{}, fmt.Errorf("unknown data %q: %w", shorten(data), ErrRegFormat)
}

func regHexBytes(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return []byte{}, nil
	}
	parts := strings.Split(s, ",")
	out := make([]byte, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		n, err := strconv.ParseUint(p, 16, 8)
		if err != nil || len(p) > 2 {
			return nil, fmt.Errorf("hex byte %q: %w", p, ErrRegFormat)
		}
		out = append(out, byte(n))
	}
	return out, nil
}

func ansiToUTF16(b []byte) []byte {
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = binary.LittleEndian.AppendUint16(out, uint16(c))
	}
	return out
}

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

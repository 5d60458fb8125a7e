package wininv

import (
	"encoding/binary"
	"slices"
	"strings"
	"unicode/utf16"
)

// Registry value types, numbered as in winnt.h (REG_SZ and so on).
const (
	RegNone           = 0
	RegSZ             = 1
	RegExpandSZ       = 2
	RegBinary         = 3
	RegDWORD          = 4
	RegDWORDBigEndian = 5
	RegMultiSZ        = 7
	RegQWORD          = 11
)

// Value is one registry value as the registry stores it: its type and raw
// bytes (strings in UTF-16LE, usually NUL-terminated; numbers
// little-endian). Keeping the raw form lets the registry API and .reg files
// produce identical trees.
type Value struct {
	Type uint32
	Data []byte
}

// Key is a registry key with its values and subkeys. Names compare
// case-insensitively, as in the registry. Every method accepts a nil *Key
// and treats it as an empty key, so a missing branch needs no checks.
type Key struct {
	Name    string
	values  map[string]Value
	subkeys map[string]*Key
}

// NewKey returns an empty key called name.
func NewKey(name string) *Key { return &Key{Name: name} }

func fold(name string) string { return strings.ToLower(name) }

// SetValue stores a value; name "" is the key's default value ("@" in a
// .reg file).
func (k *Key) SetValue(name string, v Value) {
	if k.values == nil {
		k.values = make(map[string]Value)
	}
	k.values[fold(name)] = v
}

// deleteValue removes a value if present.
func (k *Key) deleteValue(name string) { delete(k.values, fold(name)) }

// Child returns the direct subkey called name, creating it if needed.
func (k *Key) Child(name string) *Key {
	if c, ok := k.subkeys[fold(name)]; ok {
		return c
	}
	if k.subkeys == nil {
		k.subkeys = make(map[string]*Key)
	}
	c := NewKey(name)
	k.subkeys[fold(name)] = c
	return c
}

// deleteChild removes the direct subkey called name with everything below.
func (k *Key) deleteChild(name string) {
	if k != nil {
		delete(k.subkeys, fold(name))
	}
}

// Lookup follows a backslash-separated path below k and returns the key
// there, or nil.
func (k *Key) Lookup(path string) *Key {
	cur := k
	for _, part := range strings.Split(path, `\`) {
		if part == "" {
			continue
		}
		if cur == nil {
			return nil
		}
		cur = cur.subkeys[fold(part)]
	}
	return cur
}

// Subkeys returns the direct subkeys ordered by name, case-insensitively,
// so that everything built from a tree comes out in a fixed order.
func (k *Key) Subkeys() []*Key {
	if k == nil {
		return nil
	}
	out := make([]*Key, 0, len(k.subkeys))
	for _, c := range k.subkeys {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *Key) int { return strings.Compare(fold(a.Name), fold(b.Name)) })
	return out
}

// Value returns the named value.
func (k *Key) Value(name string) (Value, bool) {
	if k == nil {
		return Value{}, false
	}
	v, ok := k.values[fold(name)]
	return v, ok
}

// String returns a REG_SZ or REG_EXPAND_SZ value (unexpanded) with
// surrounding white space removed, or "" when it is missing or of another
// type. Programs and Features ignores values of the wrong type too.
func (k *Key) String(name string) string {
	v, ok := k.Value(name)
	if !ok || (v.Type != RegSZ && v.Type != RegExpandSZ) {
		return ""
	}
	return strings.TrimSpace(decodeUTF16(v.Data))
}

// Uint returns a REG_DWORD, REG_DWORD_BIG_ENDIAN or REG_QWORD value.
func (k *Key) Uint(name string) (uint64, bool) {
	v, ok := k.Value(name)
	if !ok {
		return 0, false
	}
	switch {
	case v.Type == RegDWORD && len(v.Data) >= 4:
		return uint64(binary.LittleEndian.Uint32(v.Data)), true
	case v.Type == RegDWORDBigEndian && len(v.Data) >= 4:
		return uint64(binary.BigEndian.Uint32(v.Data)), true
	case v.Type == RegQWORD && len(v.Data) >= 8:
		return binary.LittleEndian.Uint64(v.Data), true
	}
	return 0, false
}

// Strings returns a REG_MULTI_SZ value's strings, without the empty
// string that terminates the list.
func (k *Key) Strings(name string) []string {
	v, ok := k.Value(name)
	if !ok || v.Type != RegMultiSZ {
		return nil
	}
	var out []string
	for _, s := range strings.Split(decodeUTF16All(v.Data), "\x00") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// decodeUTF16 decodes little-endian UTF-16 up to the first NUL. The
// registry does not promise a terminating NUL, nor an even length.
func decodeUTF16(b []byte) string {
	s := decodeUTF16All(b)
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

func decodeUTF16All(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// encodeUTF16 encodes s as NUL-terminated little-endian UTF-16, the way
// the registry stores REG_SZ data.
func encodeUTF16(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u)+2)
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// StringValue builds a REG_SZ value; handy for live code and tests alike.
func StringValue(s string) Value { return Value{Type: RegSZ, Data: encodeUTF16(s)} }

// DWORDValue builds a REG_DWORD value.
func DWORDValue(n uint32) Value {
	return Value{Type: RegDWORD, Data: binary.LittleEndian.AppendUint32(nil, n)}
}

package collect

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows"
	winreg "golang.org/x/sys/windows/registry"

	"github.com/steward-project/steward/agent/internal/collect/wininv"
)

// regSpec says how much of a registry key readRegistry loads.
type regSpec struct {
	// values names the values to read in each key; nil reads all of them
	// and an empty slice none (for keys whose subkey names are the data).
	values []string
	// depth is how many levels of subkeys to load below the key.
	depth int
	// keep, when set, picks the direct subkeys worth opening, so that a
	// key with thousands of subkeys costs one enumeration.
	keep func(name string) bool
}

// readRegistry loads the key at path under root into a wininv.Key: the
// same tree the tests build from `reg export` files, so the rules that
// read it run on both. Keys are opened in the 64-bit view, which a 32-bit
// agent would otherwise not see; HKEY_USERS has only one view.
func readRegistry(root winreg.Key, path string, spec regSpec) (*wininv.Key, error) {
	k, err := winreg.OpenKey(root, path, winreg.QUERY_VALUE|winreg.ENUMERATE_SUB_KEYS|winreg.WOW64_64KEY)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer k.Close()
	name := path[strings.LastIndexByte(path, '\\')+1:]
	out := wininv.NewKey(name)
	if err := readKey(k, out, spec); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

func readKey(k winreg.Key, dst *wininv.Key, spec regSpec) error {
	if err := readValues(k, dst, spec.values); err != nil {
		return err
	}
	if spec.depth == 0 {
		return nil
	}
	names, err := k.ReadSubKeyNames(0)
	if err != nil {
		return fmt.Errorf("subkeys: %w", err)
	}
	for _, n := range names {
		if spec.keep != nil && !spec.keep(n) {
			continue
		}
		if spec.depth == 1 && spec.values != nil && len(spec.values) == 0 {
			dst.Child(n) // only the name is wanted: no need to open it
			continue
		}
		sub, err := winreg.OpenKey(k, n, winreg.QUERY_VALUE|winreg.ENUMERATE_SUB_KEYS|winreg.WOW64_64KEY)
		if err != nil {
			// Deleted since the enumeration (an uninstaller running), or
			// closed to us by its ACL: the rest still counts.
			continue
		}
		err = readKey(sub, dst.Child(n), regSpec{values: spec.values, depth: spec.depth - 1})
		sub.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
	}
	return nil
}

// readValues copies values with their registry type and raw bytes; the
// decoding is wininv's. A value that vanished or cannot be read is skipped.
func readValues(k winreg.Key, dst *wininv.Key, names []string) error {
	if names == nil {
		all, err := k.ReadValueNames(0)
		if err != nil {
			return fmt.Errorf("value names: %w", err)
		}
		names = all
	}
	buf := make([]byte, 512)
	for _, name := range names {
		n, typ, err := k.GetValue(name, buf)
		if errors.Is(err, windows.ERROR_MORE_DATA) || errors.Is(err, winreg.ErrShortBuffer) {
			// n is the size the value needs; it may grow again before the
			// second call, in which case the value is skipped.
			buf = make([]byte, n)
			n, typ, err = k.GetValue(name, buf)
		}
		if err != nil {
			continue
		}
		dst.SetValue(name, wininv.Value{Type: typ, Data: bytes.Clone(buf[:n])})
	}
	return nil
}

// notFound reports a key that does not exist, which for optional keys
// (the 32-bit view on 32-bit Windows, a user without Uninstall entries) is
// a normal answer rather than an error.
func notFound(err error) bool { return errors.Is(err, winreg.ErrNotExist) }

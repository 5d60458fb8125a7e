package check

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"

	"github.com/steward-project/steward/shared/policy"
)

var hives = map[string]registry.Key{
	"HKLM": registry.LOCAL_MACHINE, "HKEY_LOCAL_MACHINE": registry.LOCAL_MACHINE,
	"HKCU": registry.CURRENT_USER, "HKEY_CURRENT_USER": registry.CURRENT_USER,
	"HKCR": registry.CLASSES_ROOT, "HKEY_CLASSES_ROOT": registry.CLASSES_ROOT,
	"HKU": registry.USERS, "HKEY_USERS": registry.USERS,
	"HKCC": registry.CURRENT_CONFIG, "HKEY_CURRENT_CONFIG": registry.CURRENT_CONFIG,
}

// Registry reads the 64-bit view, where a 64-bit Windows keeps its own
// settings, whatever the agent's architecture.
func (e *liveEnv) Registry(ctx context.Context, key, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	hive, sub, _ := strings.Cut(key, `\`)
	root, ok := hives[strings.ToUpper(hive)]
	if !ok {
		return "", fmt.Errorf("unknown hive %q", hive)
	}
	k, err := registry.OpenKey(root, strings.Trim(sub, `\`), registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) || errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return "", fmt.Errorf("key %s: %w", key, policy.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("open %s: %w", key, err)
	}
	defer k.Close()
	if name == "" {
		return "", nil
	}
	_, typ, err := k.GetValue(name, nil)
	if errors.Is(err, registry.ErrNotExist) || errors.Is(err, windows.ERROR_FILE_NOT_FOUND) {
		return "", fmt.Errorf("value %s: %w", name, policy.ErrNotFound)
	}
	if err != nil && !errors.Is(err, windows.ERROR_MORE_DATA) {
		return "", fmt.Errorf("value %s: %w", name, err)
	}
	switch typ {
	case registry.SZ, registry.EXPAND_SZ:
		s, _, err := k.GetStringValue(name)
		return s, err
	case registry.DWORD, registry.QWORD:
		n, _, err := k.GetIntegerValue(name)
		return strconv.FormatUint(n, 10), err
	case registry.MULTI_SZ:
		list, _, err := k.GetStringsValue(name)
		return strings.Join(list, "\n"), err
	default:
		b, _, err := k.GetBinaryValue(name)
		if err != nil {
			return "", fmt.Errorf("value %s (type %d): %w", name, typ, err)
		}
		return hex.EncodeToString(b), nil
	}
}

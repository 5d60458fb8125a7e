package collect

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/steward-project/steward/shared/inventory"
)

func collectMemory(_ context.Context, cfg Config) (any, error) {
	data, err := os.ReadFile(cfg.proc("meminfo"))
	if err != nil {
		return nil, liveOnly(cfg, "memory", fmt.Errorf("read meminfo: %w", err))
	}
	var m inventory.Memory
	var haveTotal bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, rest, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		var dst *uint64
		switch string(key) {
		case "MemTotal":
			dst, haveTotal = &m.TotalBytes, true
		case "SwapTotal":
			dst = &m.SwapBytes
		default:
			continue
		}
		v, err := meminfoBytes(rest)
		if err != nil {
			return nil, fmt.Errorf("parse meminfo %s: %w", key, err)
		}
		*dst = v
	}
	if !haveTotal {
		return nil, fmt.Errorf("parse meminfo: no MemTotal")
	}
	return m, nil
}

// meminfoBytes parses " 24684092 kB"; the kernel's "kB" means KiB.
func meminfoBytes(field []byte) (uint64, error) {
	f := bytes.Fields(field)
	if len(f) == 0 {
		return 0, fmt.Errorf("empty value")
	}
	n, err := strconv.ParseUint(string(f[0]), 10, 64)
	if err != nil {
		return 0, err
	}
	if len(f) > 1 && string(f[1]) == "kB" {
		n *= 1024
	}
	return n, nil
}

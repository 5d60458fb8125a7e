package collect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

func collectOS(_ context.Context, cfg Config) (any, error) {
	rel, err := readOSRelease(cfg)
	if err != nil {
		return nil, err
	}
	o := inventory.OS{
		Name:     rel["PRETTY_NAME"],
		Platform: rel["ID"],
		Family:   rel["ID"],
		Version:  rel["VERSION_ID"],
		Build:    rel["BUILD_ID"],
		Kernel:   readTrim(cfg.proc("sys/kernel/osrelease")),
		Arch:     cfg.kernel.arch(),
	}
	if o.Name == "" {
		o.Name = rel["NAME"]
	}
	if o.Platform == "" {
		o.Platform = "linux" // os-release(5): ID defaults to "linux"
		o.Family = "linux"
	}
	if like := strings.Fields(rel["ID_LIKE"]); len(like) > 0 {
		o.Family = like[0]
	}
	if o.Build == "" && o.Platform == "debian" {
		// VERSION_ID is only the major release ("12"); the point release
		// ("12.11") is what tells a patched system from an old one.
		if v := readTrim(cfg.path("/etc/debian_version")); v != "" && v[0] >= '0' && v[0] <= '9' {
			o.Build = v
		}
	}
	return o, nil
}

// readOSRelease reads /etc/os-release, or /usr/lib/os-release which it
// usually links to and which some images ship alone.
func readOSRelease(cfg Config) (map[string]string, error) {
	var firstErr error
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		data, err := os.ReadFile(cfg.path(p))
		if err == nil {
			return parseOSRelease(data), nil
		}
		if firstErr == nil || !errors.Is(err, fs.ErrNotExist) {
			firstErr = err
		}
	}
	return nil, fmt.Errorf("read os-release: %w", firstErr)
}

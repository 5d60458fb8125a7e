package collect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
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
	o.Sysctl = sysctls(cfg)
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

// sysctlKeys are the kernel parameters reported in os.sysctl: those the
// CIS benchmarks for Linux servers check, all single integers.
var sysctlKeys = func() []string {
	keys := []string{
		"fs.suid_dumpable",
		"kernel.randomize_va_space",
		"kernel.yama.ptrace_scope",
		"net.ipv4.icmp_echo_ignore_broadcasts",
		"net.ipv4.icmp_ignore_bogus_error_responses",
		"net.ipv4.ip_forward",
		"net.ipv4.tcp_syncookies",
	}
	for _, scope := range []string{"all", "default"} {
		for _, k := range []string{"accept_redirects", "secure_redirects", "send_redirects",
			"accept_source_route", "log_martians", "rp_filter"} {
			keys = append(keys, "net.ipv4.conf."+scope+"."+k)
		}
		for _, k := range []string{"accept_ra", "accept_redirects", "accept_source_route", "forwarding"} {
			keys = append(keys, "net.ipv6.conf."+scope+"."+k)
		}
	}
	return keys
}()

// sysctls reads sysctlKeys from /proc/sys, as `sysctl -n` does (the dots
// of a name are the slashes of its path). A parameter the kernel lacks
// (IPv6 disabled, no Yama) or whose value is not one integer is left out.
// An offline root has no running kernel: nil.
func sysctls(cfg Config) map[string]int64 {
	if k, ok := cfg.kernel.(liveKernel); ok && k.offline {
		return nil
	}
	var out map[string]int64
	for _, key := range sysctlKeys {
		v, err := strconv.ParseInt(readTrim(cfg.proc("sys/"+strings.ReplaceAll(key, ".", "/"))), 10, 64)
		if err != nil {
			continue
		}
		if out == nil {
			out = make(map[string]int64, len(sysctlKeys))
		}
		out[key] = v
	}
	return out
}

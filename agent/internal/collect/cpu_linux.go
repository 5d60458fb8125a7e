package collect

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// cpuTopo is one logical processor's place: socket and core ids, each set
// only when known (most ARM kernels leave them out of /proc/cpuinfo).
type cpuTopo struct {
	index              int
	socket, core       string
	hasSocket, hasCore bool
}

func (t cpuTopo) known() bool { return t.hasSocket && t.hasCore }

func collectCPU(_ context.Context, cfg Config) (any, error) {
	info, err := parseCPUInfo(cfg.proc("cpuinfo"))
	if err != nil {
		return nil, liveOnly(cfg, "cpu", err)
	}
	out := inventory.CPU{Model: info.model, Threads: len(info.procs)}
	fillTopology(cfg, info.procs)
	sockets := make(map[string]bool)
	cores := make(map[[2]string]bool)
	for _, p := range info.procs {
		if !p.known() {
			continue
		}
		sockets[p.socket] = true
		cores[[2]string{p.socket, p.core}] = true
	}
	out.Sockets, out.Cores = len(sockets), len(cores)
	if out.Sockets == 0 && out.Threads > 0 {
		out.Sockets, out.Cores = 1, out.Threads
	}
	out.MHz = nominalMHz(cfg, info.firstMHz)
	return out, nil
}

type cpuInfo struct {
	model    string
	firstMHz string
	procs    []cpuTopo
}

// cpuModel picks the processor's name from the first value of each
// cpuinfo key: x86's "model name", older 32-bit ARM's "Processor", MIPS's
// "cpu model", POWER's "cpu", then the ARM core from its part number, and
// last the board's SoC ("Hardware").
func cpuModel(first map[string]string) string {
	for _, k := range []string{"model name", "Processor", "cpu model", "cpu"} {
		if m := first[k]; m != "" {
			return m
		}
	}
	if m := armModel(first["CPU implementer"], first["CPU part"]); m != "" {
		return m
	}
	return first["Hardware"]
}

func parseCPUInfo(path string) (cpuInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return cpuInfo{}, fmt.Errorf("read cpuinfo: %w", err)
	}
	defer f.Close()
	var info cpuInfo
	models := make(map[string]string)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 16<<10), 1<<20)
	cur := -1 // index into info.procs of the block being read
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			cur = -1 // blank line ends a processor's block
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "processor":
			n, err := strconv.Atoi(val)
			if err != nil {
				continue // s390x's "processor 0: version = ..." lines
			}
			info.procs = append(info.procs, cpuTopo{index: n})
			cur = len(info.procs) - 1
		case "physical id":
			if cur >= 0 {
				info.procs[cur].socket, info.procs[cur].hasSocket = val, true
			}
		case "core id":
			if cur >= 0 {
				info.procs[cur].core, info.procs[cur].hasCore = val, true
			}
		case "cpu MHz":
			if info.firstMHz == "" {
				info.firstMHz = val
			}
		default:
			if _, seen := models[key]; !seen && val != "" {
				models[key] = val
			}
		}
	}
	if err := sc.Err(); err != nil {
		return cpuInfo{}, fmt.Errorf("read cpuinfo: %w", err)
	}
	info.model = cpuModel(models)
	return info, nil
}

// fillTopology takes socket and core ids from sysfs for processors whose
// cpuinfo block did not carry them.
func fillTopology(cfg Config, procs []cpuTopo) {
	for i := range procs {
		if procs[i].known() {
			continue
		}
		dir := fmt.Sprintf("devices/system/cpu/cpu%d/topology/", procs[i].index)
		pkg := readTrim(cfg.sys(dir + "physical_package_id"))
		core := readTrim(cfg.sys(dir + "core_id"))
		if pkg == "" || core == "" {
			continue
		}
		procs[i].socket, procs[i].core = pkg, core
		procs[i].hasSocket, procs[i].hasCore = true, true
	}
}

// nominalMHz prefers cpufreq's maximum, a constant of the part; the
// current "cpu MHz" moves with frequency scaling and is used, rounded, only
// where there is no cpufreq (most VMs, where it is the constant TSC rate).
func nominalMHz(cfg Config, firstMHz string) float64 {
	if khz, err := strconv.ParseUint(readTrim(cfg.sys("devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")), 10, 64); err == nil && khz > 0 {
		return math.Round(float64(khz) / 1000)
	}
	if mhz, err := strconv.ParseFloat(firstMHz, 64); err == nil && mhz > 0 {
		return math.Round(mhz)
	}
	return 0
}

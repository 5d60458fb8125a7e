package collect

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// These tests run the collectors on the machine the tests run on and check
// them against the system's own tools.

func liveSection(t *testing.T, doc inventory.Document, name string, dst any) {
	t.Helper()
	if msg, failed := doc.Errors[name]; failed {
		t.Fatalf("section %s failed: %s", name, msg)
	}
	if err := json.Unmarshal(doc.Sections[name], dst); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

func command(t *testing.T, name string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed to check the collector against the system (on Debian it is in the base system): %v", name, err)
	}
	out, err := exec.Command(path, args...).Output()
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

func TestLiveMatchesSystemTools(t *testing.T) {
	t.Parallel()
	holdDpkgLock(t)
	doc := Collect(context.Background(), Config{})
	if len(doc.Errors) != 0 {
		t.Errorf("collector errors on a live Linux machine: %v", doc.Errors)
	}

	t.Run("software equals dpkg-query", func(t *testing.T) {
		var sw inventory.Software
		liveSection(t, doc, "software", &sw)
		out := command(t, "dpkg-query", "-W", "-f", `${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n`)
		want := make(map[string]string)
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			f := strings.Split(line, "\t")
			// The second letter of the abbreviation is the state, whatever
			// the wanted action (ii, hi, ri): every state but 'n'
			// (not-installed) and 'c' (config-files) has the files present.
			if len(f) != 4 || len(f[0]) < 2 || f[0][1] == 'n' || f[0][1] == 'c' {
				continue
			}
			want[f[1]+":"+f[3]] = f[2]
		}
		if len(want) == 0 {
			t.Fatal("dpkg-query listed no installed packages")
		}
		got := make(map[string]string)
		for _, p := range sw.Packages {
			if p.Source != inventory.SourceDpkg || p.Publisher != "" {
				t.Errorf("%s: source %q publisher %q", p.Name, p.Source, p.Publisher)
			}
			got[p.Name+":"+p.Arch] = p.Version
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: collected version %q, dpkg-query %q", k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s collected but not installed according to dpkg-query", k)
			}
		}
		t.Logf("%d packages agree", len(want))
	})

	t.Run("threads equal nproc --all", func(t *testing.T) {
		var cpu inventory.CPU
		liveSection(t, doc, "cpu", &cpu)
		n, err := strconv.Atoi(strings.TrimSpace(command(t, "nproc", "--all")))
		if err != nil {
			t.Fatal(err)
		}
		if cpu.Threads != n {
			t.Errorf("threads = %d, nproc --all = %d", cpu.Threads, n)
		}
		// runtime.NumCPU honours the affinity mask (cgroup cpusets), so it
		// may be lower than the machine's count but never higher.
		if runtime.NumCPU() > cpu.Threads {
			t.Errorf("threads = %d < runtime.NumCPU() = %d", cpu.Threads, runtime.NumCPU())
		}
		if cpu.Sockets < 1 || cpu.Cores < cpu.Sockets || cpu.Cores > cpu.Threads || cpu.Model == "" {
			t.Errorf("implausible cpu %+v", cpu)
		}
	})

	t.Run("memory equals MemTotal", func(t *testing.T) {
		var mem inventory.Memory
		liveSection(t, doc, "memory", &mem)
		var kb uint64
		f, err := os.Open("/proc/meminfo")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
				break
			}
		}
		if kb == 0 || mem.TotalBytes != kb*1024 {
			t.Errorf("total_bytes = %d, MemTotal = %d kB", mem.TotalBytes, kb)
		}
	})

	t.Run("os equals os-release and uname", func(t *testing.T) {
		var o inventory.OS
		liveSection(t, doc, "os", &o)
		// The shell reads os-release as its format was designed for.
		rel := strings.Split(strings.TrimSpace(command(t, "sh", "-c",
			`. /etc/os-release 2>/dev/null || . /usr/lib/os-release; printf '%s|%s|%s' "$ID" "$VERSION_ID" "${PRETTY_NAME:-$NAME}"`)), "|")
		if o.Platform != rel[0] || o.Version != rel[1] || o.Name != rel[2] {
			t.Errorf("os = %+v, os-release says ID=%q VERSION_ID=%q name %q", o, rel[0], rel[1], rel[2])
		}
		if k := strings.TrimSpace(command(t, "uname", "-r")); o.Kernel != k {
			t.Errorf("kernel = %q, uname -r = %q", o.Kernel, k)
		}
		if m := strings.TrimSpace(command(t, "uname", "-m")); o.Arch != m {
			t.Errorf("arch = %q, uname -m = %q", o.Arch, m)
		}
	})

	t.Run("host name and boot time", func(t *testing.T) {
		var h inventory.Host
		liveSection(t, doc, "host", &h)
		if name, _ := os.Hostname(); h.Hostname != name {
			t.Errorf("hostname = %q, os.Hostname = %q", h.Hostname, name)
		}
		if h.BootTime.IsZero() || h.BootTime.After(doc.CollectedAt) {
			t.Errorf("boot_time = %v", h.BootTime)
		}
		if id := readTrim("/etc/machine-id"); id != "" && h.MachineID != id {
			t.Errorf("machine_id = %q, /etc/machine-id = %q", h.MachineID, id)
		}
	})

	t.Run("root volume equals statfs", func(t *testing.T) {
		var d inventory.Disks
		liveSection(t, doc, "disks", &d)
		var st syscall.Statfs_t
		if err := syscall.Statfs("/", &st); err != nil {
			t.Fatal(err)
		}
		for _, v := range d.Volumes {
			if v.Mount == "/" {
				if want := st.Blocks * uint64(st.Frsize); v.SizeBytes != want {
					t.Errorf("/ size = %d, statfs = %d", v.SizeBytes, want)
				}
				return
			}
		}
		t.Errorf("no volume for / in %+v", d.Volumes)
	})
}

// TestLiveDeterministic collects twice: every section but disks (free
// space) must hash the same, or an unchanged machine would resend them.
func TestLiveDeterministic(t *testing.T) {
	t.Parallel()
	holdDpkgLock(t)
	first := Collect(context.Background(), Config{})
	second := Collect(context.Background(), Config{})
	// ports is left out: other processes on a test machine open and close
	// listeners between the two collections. For the same reason a
	// service's state is compared apart: tests running beside this one
	// start and stop real daemons (prometheus, postgres), and a service
	// that starts between the collections is a real change.
	for _, name := range []string{"host", "os", "cpu", "memory", "network", "software", "services", "users"} {
		t.Run(name, func(t *testing.T) {
			a, b := first.Sections[name], second.Sections[name]
			if a == nil || b == nil {
				t.Fatalf("section missing: errors %v / %v", first.Errors[name], second.Errors[name])
			}
			if name == "services" {
				a, b = servicesWithoutState(t, a), servicesWithoutState(t, b)
			}
			if inventory.Hash(a) != inventory.Hash(b) {
				t.Errorf("section changed between collections:\n%s\n%s", a, b)
			}
		})
	}
}

// servicesWithoutState returns the services section with every state
// cleared, everything else as collected.
func servicesWithoutState(t *testing.T, raw json.RawMessage) json.RawMessage {
	t.Helper()
	var s inventory.Services
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("decode services: %v", err)
	}
	if len(s.Services) == 0 {
		t.Fatal("no services collected")
	}
	for i := range s.Services {
		s.Services[i].State = ""
	}
	out, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func BenchmarkCollect(b *testing.B) {
	b.ReportAllocs()
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	for b.Loop() {
		doc := Collect(context.Background(), Config{})
		if len(doc.Errors) != 0 {
			b.Fatalf("errors: %v", doc.Errors)
		}
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := func(r syscall.Rusage) float64 {
		return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e6
	}
	b.ReportMetric((cpu(after)-cpu(before))/float64(b.N), "cpu-ms/op")
	var size int
	doc := Collect(context.Background(), Config{})
	for _, s := range doc.Sections {
		size += len(s)
	}
	b.ReportMetric(float64(size), "doc-bytes")
}

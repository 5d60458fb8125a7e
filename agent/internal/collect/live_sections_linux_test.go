package collect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// These tests check the services, users and ports sections on the machine
// the tests run on against the system's own tools.

// systemTool runs a reference tool. A missing tool fails the test with
// the Debian package that provides it.
func systemTool(t *testing.T, pkg, name string, args ...string) string {
	t.Helper()
	out, err := runSystemTool(t, pkg, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out
}

func runSystemTool(t *testing.T, pkg, name string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed to check the collector against the system: apt-get install %s (%v)", name, pkg, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	out, err := cmd.Output()
	return string(out), err
}

func liveCollect[T any](t *testing.T, fn collectorFunc) T {
	t.Helper()
	v, err := fn(context.Background(), Config{}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	return v.(T)
}

// socketKey is a listening socket as both sides can name it.
type socketKey struct {
	proto, addr string
	port        int
}

// ssListening returns what `ss -l` lists, with the process names of each
// socket when -p can see them. Addresses lose their %interface suffix
// (SO_BINDTODEVICE), which /proc and sock_diag do not carry.
func ssListening(t *testing.T) map[socketKey][]string {
	t.Helper()
	users := regexp.MustCompile(`\("([^"]*)",pid=`)
	out := make(map[socketKey][]string)
	for _, q := range []struct{ proto, flag, family string }{
		{"tcp", "-t", "-4"}, {"tcp", "-t", "-6"}, {"udp", "-u", "-4"}, {"udp", "-u", "-6"},
	} {
		text := systemTool(t, "iproute2", "ss", "-H", "-l", "-n", "-p", q.flag, q.family)
		for line := range strings.Lines(text) {
			f := strings.Fields(line)
			if len(f) < 5 {
				continue
			}
			i := strings.LastIndexByte(f[3], ':')
			host, portStr := f[3][:i], f[3][i+1:]
			host, _, _ = strings.Cut(host, "%")
			host = strings.Trim(host, "[]")
			if host == "*" {
				host = map[string]string{"-4": "0.0.0.0", "-6": "::"}[q.family]
			}
			addr, err := netip.ParseAddr(host)
			port, perr := strconv.Atoi(portStr)
			if err != nil || perr != nil {
				t.Fatalf("cannot read ss line %q", line)
			}
			k := socketKey{q.proto, addr.String(), port}
			out[k] = out[k] // present even when no process is visible
			for _, m := range users.FindAllStringSubmatch(line, -1) {
				out[k] = append(out[k], m[1])
			}
		}
	}
	return out
}

func TestLivePortsMatchSS(t *testing.T) {
	t.Parallel()
	// Listeners of our own, so that the set is never empty and the process
	// name of at least these is known.
	tcp4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp4.Close()
	tcp6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatalf("listen on [::1] (is IPv6 disabled on lo?): %v", err)
	}
	defer tcp6.Close()
	udp4, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp4.Close()
	own := map[socketKey]bool{
		{"tcp", "127.0.0.1", tcp4.Addr().(*net.TCPAddr).Port}:      true,
		{"tcp", "::1", tcp6.Addr().(*net.TCPAddr).Port}:            true,
		{"udp", "127.0.0.1", udp4.LocalAddr().(*net.UDPAddr).Port}: true,
	}
	comm := readTrim("/proc/self/comm")

	// Other processes open and close sockets meanwhile (this machine runs
	// other tests): a socket must be in ss before or after the collection,
	// and one in ss both times must be collected.
	before := ssListening(t)
	ports := liveCollect[inventory.Ports](t, collectPorts)
	after := ssListening(t)

	got := make(map[socketKey]inventory.Port)
	for _, p := range ports.Ports {
		k := socketKey{p.Proto, p.Address, p.Port}
		got[k] = p
		_, b := before[k]
		_, a := after[k]
		if !b && !a {
			t.Errorf("%s %s port %d collected, but ss does not list it", p.Proto, p.Address, p.Port)
		}
	}
	for k := range before {
		if _, stable := after[k]; !stable {
			continue
		}
		if _, ok := got[k]; !ok {
			t.Errorf("ss lists %s %s port %d, the collector does not", k.proto, k.addr, k.port)
		}
	}
	for k := range own {
		if p, ok := got[k]; !ok || p.Process != comm {
			t.Errorf("own listener %v: collected %+v, want process %q", k, p, comm)
		}
	}
	if os.Geteuid() != 0 {
		t.Logf("not root: process names checked for our own sockets only")
		return
	}
	// As root, ss -p sees every process, as the collector does.
	for k, p := range got {
		b, inBefore := before[k]
		a, inAfter := after[k]
		if !inBefore || !inAfter {
			continue // came or went during the test
		}
		if p.Process == "" && len(b) > 0 && len(a) > 0 {
			t.Errorf("%v: no process collected, ss -p shows %v", k, b)
		}
		if p.Process != "" && !slices.Contains(b, p.Process) && !slices.Contains(a, p.Process) {
			t.Errorf("%v: process %q, ss -p shows %v / %v", k, p.Process, b, a)
		}
	}
	t.Logf("%d listening sockets agree with ss", len(got))
}

// TestLivePortsSockDiagMatchesProc checks the two sources against each
// other: sock_diag on the live kernel and the /proc/net files that fixture
// trees use.
func TestLivePortsSockDiagMatchesProc(t *testing.T) {
	t.Parallel()
	k := Config{}.withDefaults().kernel.(liveKernel)
	for _, f := range procNetFiles {
		t.Run(f.file, func(t *testing.T) {
			for attempt := 0; ; attempt++ {
				fromDiag, err := k.listeningSockets(f.proto, f.v6)
				if err != nil {
					t.Fatalf("sock_diag: %v", err)
				}
				data, err := os.ReadFile("/proc/" + f.file)
				if err != nil {
					t.Fatal(err)
				}
				diff := socketDiff(fromDiag, parseProcNet(data, f.proto))
				if diff == "" {
					return
				}
				if attempt == 3 { // sockets came and went each time
					t.Fatal(diff)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func socketDiff(a, b []listenSocket) string {
	set := func(l []listenSocket) map[listenSocket]bool {
		m := make(map[listenSocket]bool)
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	sa, sb := set(a), set(b)
	var msg strings.Builder
	for s := range sa {
		if !sb[s] {
			fmt.Fprintf(&msg, "only in sock_diag: %+v\n", s)
		}
	}
	for s := range sb {
		if !sa[s] {
			fmt.Fprintf(&msg, "only in /proc: %+v\n", s)
		}
	}
	return msg.String()
}

// getent runs `getent -s files DB KEYS...`: the local files only, as the
// collector reads them. Exit status 2 means a key was not found.
func getent(t *testing.T, db string, keys ...string) string {
	t.Helper()
	out, err := runSystemTool(t, "libc-bin", "getent", append([]string{"-s", "files", db}, keys...)...)
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 2) {
		t.Fatalf("getent %s: %v", db, err)
	}
	return out
}

func TestLiveUsersMatchGetent(t *testing.T) {
	t.Parallel()
	users := liveCollect[inventory.Users](t, collectUsers)
	got := make(map[string]inventory.User)
	for _, u := range users.Users {
		got[u.Name] = u
	}

	type account struct{ uid, gid, gecos, home, shell string }
	want := make(map[string]account)
	for line := range strings.Lines(getent(t, "passwd")) {
		f := strings.Split(strings.TrimSpace(line), ":")
		if len(f) != 7 {
			t.Fatalf("getent passwd line %q", line)
		}
		if _, dup := want[f[0]]; !dup {
			want[f[0]] = account{f[2], f[3], f[4], f[5], f[6]}
		}
	}
	adminGID := make(map[string]bool)
	adminMember := make(map[string]bool)
	for _, g := range []string{"sudo", "wheel", "admin"} {
		f := strings.Split(strings.TrimSpace(getent(t, "group", g)), ":")
		if len(f) != 4 {
			continue // no such group here
		}
		adminGID[f[2]] = true
		for _, m := range strings.Split(f[3], ",") {
			adminMember[m] = m != ""
		}
	}
	if len(want) != len(got) {
		t.Errorf("%d users collected, getent lists %d", len(got), len(want))
	}
	for name, a := range want {
		u, ok := got[name]
		if !ok {
			t.Errorf("%s: in getent passwd, not collected", name)
			continue
		}
		full, _, _ := strings.Cut(a.gecos, ",")
		if u.UID != a.uid || u.Home != a.home || u.Shell != a.shell || u.FullName != strings.TrimSpace(full) {
			t.Errorf("%s: collected %+v, getent says %+v", name, u, a)
		}
		if admin := a.uid == "0" || adminGID[a.gid] || adminMember[name]; u.Admin != admin {
			t.Errorf("%s: admin = %v, getent group says %v", name, u.Admin, admin)
		}
	}
	t.Run("disabled equals passwd -S", func(t *testing.T) { liveDisabled(t, got) })
	t.Run("last login equals lastlog", func(t *testing.T) { liveLastLogin(t, got) })
}

// liveDisabled checks the disabled flag against `passwd -S` (L: locked or
// no usable password) and `chage -l` (account expiry).
func liveDisabled(t *testing.T, got map[string]inventory.User) {
	if os.Geteuid() != 0 {
		// Unprivileged, /etc/shadow cannot be read and nothing is flagged.
		for _, u := range got {
			if u.Disabled {
				t.Errorf("%s disabled without access to /etc/shadow", u.Name)
			}
		}
		return
	}
	status := make(map[string]string)
	for line := range strings.Lines(systemTool(t, "passwd", "passwd", "-S", "-a")) {
		if f := strings.Fields(line); len(f) >= 2 {
			status[f[0]] = f[1]
		}
	}
	for _, u := range got {
		expired := false
		for line := range strings.Lines(systemTool(t, "passwd", "chage", "-l", "-i", u.Name)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Account expires" {
				day, err := time.Parse(time.DateOnly, strings.TrimSpace(v))
				expired = err == nil && !day.After(time.Now())
			}
		}
		want := expired || (!u.System && status[u.Name] == "L")
		if u.Disabled != want {
			t.Errorf("%s: disabled = %v; passwd -S says %s, expired %v, system %v", u.Name, u.Disabled, status[u.Name], expired, u.System)
		}
	}
}

// liveLastLogin checks last login times against `lastlog`, which prints
// "**Never logged in**" or the time as its last five fields.
func liveLastLogin(t *testing.T, got map[string]inventory.User) {
	seen := 0
	for line := range strings.Lines(systemTool(t, "login", "lastlog")) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] == "Username" {
			continue
		}
		u, ok := got[f[0]]
		if !ok {
			continue
		}
		seen++
		if strings.Contains(line, "**Never logged in**") {
			if !u.LastLogin.IsZero() {
				t.Errorf("%s: last login %v, lastlog says never", u.Name, u.LastLogin)
			}
			continue
		}
		if len(f) < 7 {
			t.Fatalf("cannot read lastlog line %q", line)
		}
		when, err := time.Parse("Mon Jan 2 15:04:05 -0700 2006", strings.Join(f[len(f)-6:], " "))
		if err != nil {
			t.Fatalf("lastlog line %q: %v", line, err)
		}
		if !u.LastLogin.Equal(when) {
			t.Errorf("%s: last login %v, lastlog says %v", u.Name, u.LastLogin, when)
		}
	}
	if seen == 0 {
		t.Error("lastlog listed none of the collected users")
	}
}

// BenchmarkLiveSections measures the services, users and ports collectors
// on their own on this machine; ports includes the /proc/<pid>/fd scan.
func BenchmarkLiveSections(b *testing.B) {
	cfg := Config{}.withDefaults()
	for _, s := range []struct {
		name string
		fn   collectorFunc
	}{{"services", collectServices}, {"users", collectUsers}, {"ports", collectPorts}} {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			var before, after syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			for b.Loop() {
				if _, err := s.fn(context.Background(), cfg); err != nil {
					b.Fatal(err)
				}
			}
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := func(r syscall.Rusage) float64 { return float64(r.Utime.Nano()+r.Stime.Nano()) / 1e6 }
			b.ReportMetric((cpu(after)-cpu(before))/float64(b.N), "cpu-ms/op")
		})
	}
}

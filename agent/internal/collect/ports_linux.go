package collect

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/steward-project/steward/shared/inventory"
)

// The "ports" section lists the sockets in the agent's network namespace
// that wait for connections or datagrams, from sock_diag netlink on the live
// kernel (ports_sockdiag_linux.go) or /proc/net/{tcp,tcp6,udp,udp6}, which
// list the same sockets:
//
//   - TCP: state LISTEN (0A).
//   - UDP: state 07 (TCP_CLOSE, which ss shows as UNCONN) with no remote
//     address, i.e. bound and not connected; `ss -lun` lists the same
//     sockets. A connected UDP socket (state 01) is a client.
//
// Process is the name (/proc/<pid>/comm) of the lowest pid holding the
// socket, found by reading /proc/<pid>/fd links ("socket:[inode]") in pid
// order until every socket has an owner; with several holders (a forking
// server's workers) the lowest pid is the parent, so the name is stable.
// Unprivileged, only the agent's own processes can be read and the others
// are left without a name, as in `ss -p`. User is the account that owns
// the socket (the uid in /proc/net, the one that created it), which a
// daemon keeps after dropping privileges. Entries that agree on every field
// are listed once: SO_REUSEPORT servers open one socket per worker.

// procNetFiles are read in this order; the IPv6 ones are missing when
// IPv6 is disabled.
var procNetFiles = []struct {
	file, proto string
	v6          bool
}{
	{"net/tcp", "tcp", false},
	{"net/tcp6", "tcp", true},
	{"net/udp", "udp", false},
	{"net/udp6", "udp", true},
}

// listenSocket is one listening socket from /proc/net.
type listenSocket struct {
	proto string
	addr  netip.Addr
	port  int
	uid   uint64
	inode uint64
}

func collectPorts(ctx context.Context, cfg Config) (any, error) {
	if offlineRoot(cfg) {
		return nil, fmt.Errorf("listening sockets: %w", errLiveOnly)
	}
	dumper, _ := cfg.kernel.(socketDumper)
	var socks []listenSocket
	for _, f := range procNetFiles {
		if dumper != nil {
			s, err := dumper.listeningSockets(f.proto, f.v6)
			if err == nil {
				socks = append(socks, s...)
				continue
			}
			cfg.Logger.Debug("sock_diag failed, reading /proc", "file", f.file, "err", err)
		}
		data, err := os.ReadFile(cfg.proc(f.file))
		if err != nil {
			if f.v6 && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("read listening sockets: %w", err)
		}
		socks = append(socks, parseProcNet(data, f.proto)...)
	}
	want := make(map[uint64]bool, len(socks))
	for _, s := range socks {
		if s.inode != 0 {
			want[s.inode] = true
		}
	}
	owners := socketOwners(ctx, cfg.ProcDir, want)
	passwd, _ := os.ReadFile(cfg.path("/etc/passwd"))
	names := userNames(passwd)

	out := inventory.Ports{Ports: make([]inventory.Port, 0, len(socks))}
	seen := make(map[inventory.Port]bool, len(socks))
	for _, s := range socks {
		p := inventory.Port{
			Proto:   s.proto,
			Address: s.addr.String(),
			Port:    s.port,
			Process: owners[s.inode],
			User:    names[s.uid],
		}
		if p.User == "" {
			p.User = strconv.FormatUint(s.uid, 10)
		}
		if !seen[p] {
			seen[p] = true
			out.Ports = append(out.Ports, p)
		}
	}
	slices.SortFunc(out.Ports, comparePorts)
	return out, nil
}

func comparePorts(a, b inventory.Port) int {
	if c := strings.Compare(a.Proto, b.Proto); c != 0 {
		return c
	}
	if a.Port != b.Port {
		return a.Port - b.Port
	}
	// Addresses compare as addresses, not strings: 10.0.0.2 before 10.0.0.10.
	aa, _ := netip.ParseAddr(a.Address)
	ba, _ := netip.ParseAddr(b.Address)
	if c := aa.Compare(ba); c != 0 {
		return c
	}
	if c := strings.Compare(a.Process, b.Process); c != 0 {
		return c
	}
	return strings.Compare(a.User, b.User)
}

// parseProcNet returns the listening sockets in one /proc/net/{tcp,udp}[6]
// table (see proc(5)):
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//
// Addresses are hex words as the kernel holds them: an IPv4 address is one
// 32-bit word and an IPv6 address four, each printed as a native-endian
// integer, so the bytes are recovered with the machine's own byte order.
// Ports are printed as numbers. Lines that do not parse are skipped.
func parseProcNet(data []byte, proto string) []listenSocket {
	var out []listenSocket
	first := true
	for len(data) > 0 {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if first { // the header
			first = false
			continue
		}
		f := bytes.Fields(line)
		if len(f) < 10 {
			continue
		}
		state := string(f[3])
		if proto == "tcp" && state != "0A" || proto == "udp" && state != "07" {
			continue
		}
		local, port, ok := parseHexEndpoint(f[1])
		if !ok {
			continue
		}
		if proto == "udp" {
			if remote, rport, ok := parseHexEndpoint(f[2]); !ok || !remote.IsUnspecified() || rport != 0 {
				continue // connected
			}
		}
		uid, err1 := strconv.ParseUint(string(f[7]), 10, 32)
		inode, err2 := strconv.ParseUint(string(f[9]), 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, listenSocket{proto: proto, addr: local, port: port, uid: uid, inode: inode})
	}
	return out
}

// parseHexEndpoint decodes "0100007F:0016" (127.0.0.1:22) and its 32-digit
// IPv6 form.
func parseHexEndpoint(b []byte) (netip.Addr, int, bool) {
	i := bytes.IndexByte(b, ':')
	if i < 0 {
		return netip.Addr{}, 0, false
	}
	port, err := strconv.ParseUint(string(b[i+1:]), 16, 16)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	var raw [16]byte
	hexAddr := b[:i]
	if len(hexAddr) != 8 && len(hexAddr) != 32 {
		return netip.Addr{}, 0, false
	}
	n, err := hex.Decode(raw[:], hexAddr)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	// hex.Decode gave the printed (big-endian) digits of each word; turn
	// each word back into the native-endian bytes the kernel held.
	for w := 0; w < n; w += 4 {
		binary.NativeEndian.PutUint32(raw[w:w+4], binary.BigEndian.Uint32(raw[w:w+4]))
	}
	if n == 4 {
		return netip.AddrFrom4([4]byte(raw[:4])), int(port), true
	}
	return netip.AddrFrom16(raw), int(port), true
}

// socketOwners maps socket inodes to the name of the lowest pid holding
// them. It reads fd links only until every inode in want has an owner, and
// skips the rest of a process at its first unreadable link (another user's
// process, when unprivileged): they would all fail alike.
func socketOwners(ctx context.Context, procDir string, want map[uint64]bool) map[uint64]string {
	owners := make(map[uint64]string, len(want))
	if len(want) == 0 {
		return owners
	}
	var buf [64]byte
	for _, pid := range pids(procDir) {
		if len(owners) == len(want) || ctx.Err() != nil {
			break
		}
		base := procDir + "/" + strconv.Itoa(pid)
		dir, err := os.Open(base + "/fd")
		if err != nil {
			continue
		}
		fds, _ := dir.Readdirnames(-1)
		dirfd := int(dir.Fd())
		comm := ""
		for _, fd := range fds {
			n, err := unix.Readlinkat(dirfd, fd, buf[:])
			if err != nil {
				if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
					break
				}
				continue // the fd was closed meanwhile
			}
			inode, ok := socketInode(buf[:n])
			if !ok || !want[inode] {
				continue
			}
			if _, done := owners[inode]; done {
				continue
			}
			if comm == "" {
				comm = readTrim(base + "/comm")
			}
			owners[inode] = comm
		}
		dir.Close()
	}
	return owners
}

// socketInode parses an fd link target "socket:[12345]".
func socketInode(link []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(link, []byte("socket:["))
	if !ok || len(rest) < 2 || rest[len(rest)-1] != ']' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(rest[:len(rest)-1]), 10, 64)
	return v, err == nil
}

// pids returns the process ids under procDir in ascending order.
func pids(procDir string) []int {
	dir, err := os.Open(procDir)
	if err != nil {
		return nil
	}
	names, _ := dir.Readdirnames(-1)
	dir.Close()
	out := make([]int, 0, len(names))
	for _, n := range names {
		if n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		if pid, err := strconv.Atoi(n); err == nil {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

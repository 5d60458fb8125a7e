package macinv

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// LsofArgs returns the arguments for lsof that ParsePorts reads the output of:
// every TCP and UDP socket, numeric addresses and ports (-n -P: no DNS or
// services lookups), full command names (+c 0), no warnings, and
// machine-readable fields (-F): p process id, c command, L login name, f
// file descriptor, t address family, P protocol, n address and T, whose
// ST= entry is the TCP state. Listening TCP sockets are picked from the
// output rather than with -sTCP:LISTEN because a state filter for TCP also
// drops every UDP socket. lsof walks every process's file table, which
// makes it the slowest part of a macOS inventory (tens to a few hundred
// milliseconds); run as a user it sees only that user's processes. It
// exits 1 when it found no socket at all.
func LsofArgs() []string {
	return []string{"-nP", "+c", "0", "-w", "-iTCP", "-iUDP", "-FpcLftPnT"}
}

// ParsePorts reads lsof field output (lsof(8), OUTPUT FOR OTHER PROGRAMS):
// one field per line, its first character naming it. A 'p' line starts a
// process, whose c and L fields follow; an 'f' line starts one of its open
// files, whose t, P, n and T fields follow. Listening sockets are TCP ones
// in state LISTEN and UDP ones bound to a port and not connected (a
// connected socket's n holds "local->remote"). A socket that forked
// workers share with their parent (httpd, nginx) is listed once per
// command, with the user of the lowest process id: the parent, which
// opened it.
func ParsePorts(out []byte) (inventory.Ports, error) {
	type owned struct {
		inventory.Port
		pid int
	}
	var (
		found         []owned
		pid           int
		command, user string
		f             lsofFile
		inFile        bool
	)
	flush := func() {
		if inFile {
			if p, ok := f.port(); ok {
				p.Process, p.User = command, user
				found = append(found, owned{p, pid})
			}
		}
		f, inFile = lsofFile{}, false
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		val := line[1:]
		switch line[0] {
		case 'p':
			flush()
			pid, _ = strconv.Atoi(val)
			command, user = "", ""
		case 'c':
			command = val
		case 'L':
			user = val
		case 'f':
			flush()
			inFile = true
		case 't':
			f.family = val
		case 'P':
			f.proto = val
		case 'n':
			f.name = val
		case 'T':
			if st, ok := strings.CutPrefix(val, "ST="); ok {
				f.state = st
			}
		}
	}
	flush()
	if err := sc.Err(); err != nil {
		return inventory.Ports{}, fmt.Errorf("lsof: %w", err)
	}
	slices.SortFunc(found, func(a, b owned) int {
		return cmp.Or(comparePorts(a.Port, b.Port), cmp.Compare(a.pid, b.pid))
	})
	found = slices.CompactFunc(found, func(a, b owned) bool { return comparePorts(a.Port, b.Port) == 0 })
	ports := make([]inventory.Port, len(found))
	for i, o := range found {
		ports[i] = o.Port
	}
	return inventory.Ports{Ports: ports}, nil
}

// lsofFile is one socket's fields.
type lsofFile struct{ family, proto, name, state string }

// port reads a listening socket's address, such as "*:22",
// "127.0.0.1:631" or "[::1]:631". The wildcard becomes 0.0.0.0 or :: by
// address family.
func (f lsofFile) port() (inventory.Port, bool) {
	proto := strings.ToLower(f.proto)
	switch {
	case proto == "tcp" && f.state == "LISTEN":
	case proto == "udp" && !strings.Contains(f.name, "->"):
	default:
		return inventory.Port{}, false
	}
	i := strings.LastIndexByte(f.name, ':')
	if i < 0 {
		return inventory.Port{}, false
	}
	host := f.name[:i]
	port, err := strconv.Atoi(f.name[i+1:])
	if err != nil || port <= 0 || port > 65535 {
		return inventory.Port{}, false // "*:*", a socket not bound to a port
	}
	if host == "*" {
		host = "0.0.0.0"
		if f.family == "IPv6" {
			host = "::"
		}
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return inventory.Port{Proto: proto, Address: host, Port: port}, true
}

// comparePorts orders by socket and command; the user does not tell two
// entries apart. Addresses compare as addresses (10.0.0.2 before
// 10.0.0.10), as on Linux, then as text, so that the order is total even
// for a name netip does not read.
func comparePorts(a, b inventory.Port) int {
	aa, _ := netip.ParseAddr(a.Address)
	ba, _ := netip.ParseAddr(b.Address)
	return cmp.Or(
		cmp.Compare(a.Proto, b.Proto),
		cmp.Compare(a.Port, b.Port),
		aa.Compare(ba),
		cmp.Compare(a.Address, b.Address),
		cmp.Compare(a.Process, b.Process),
	)
}

package wininv

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// The live code asks iphlpapi's GetExtendedTcpTable and GetExtendedUdpTable
// for the "owner PID" tables and hands over the raw buffers, which these
// functions decode. Each table is a DWORD row count followed by fixed-size
// rows of DWORDs and byte arrays, so rows start at offset 4 on every
// architecture; all Windows targets are little-endian. Addresses are in
// network byte order; a port is in network byte order in the low 16 bits
// of its DWORD, so its two bytes in memory are high byte then low byte.

// Row sizes of MIB_TCPROW_OWNER_PID, MIB_TCP6ROW_OWNER_PID,
// MIB_UDPROW_OWNER_PID and MIB_UDP6ROW_OWNER_PID.
const (
	tcp4RowSize = 24 // state, local addr, local port, remote addr, remote port, pid
	tcp6RowSize = 56 // local addr[16], scope, local port, remote addr[16], scope, remote port, state, pid
	udp4RowSize = 12 // local addr, local port, pid
	udp6RowSize = 28 // local addr[16], scope, local port, pid
)

// mibTCPStateListen is MIB_TCP_STATE_LISTEN.
const mibTCPStateListen = 2

// Endpoint is one local socket address with its owning process.
type Endpoint struct {
	Proto string // "tcp" or "udp"
	Addr  netip.Addr
	Port  uint16
	PID   uint32
}

// ErrSocketTable is wrapped when a table buffer is shorter than it says.
var ErrSocketTable = errors.New("truncated socket table")

func tableRows(buf []byte, rowSize int) (int, error) {
	if len(buf) < 4 {
		return 0, fmt.Errorf("%d bytes: %w", len(buf), ErrSocketTable)
	}
	n := int(binary.LittleEndian.Uint32(buf))
	if n > (len(buf)-4)/rowSize {
		return 0, fmt.Errorf("%d rows of %d bytes in %d bytes: %w", n, rowSize, len(buf), ErrSocketTable)
	}
	return n, nil
}

func port(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// ParseTCPTable decodes a MIB_TCPTABLE_OWNER_PID (v6 false) or
// MIB_TCP6TABLE_OWNER_PID and returns its listening sockets.
func ParseTCPTable(buf []byte, v6 bool) ([]Endpoint, error) {
	size := tcp4RowSize
	if v6 {
		size = tcp6RowSize
	}
	n, err := tableRows(buf, size)
	if err != nil {
		return nil, err
	}
	var out []Endpoint
	for i := range n {
		r := buf[4+i*size : 4+(i+1)*size]
		var ep Endpoint
		var state uint32
		if v6 {
			ep = Endpoint{Addr: netip.AddrFrom16([16]byte(r[0:16])), Port: port(r[20:24])}
			state, ep.PID = binary.LittleEndian.Uint32(r[48:52]), binary.LittleEndian.Uint32(r[52:56])
		} else {
			state = binary.LittleEndian.Uint32(r[0:4])
			ep = Endpoint{Addr: netip.AddrFrom4([4]byte(r[4:8])), Port: port(r[8:12])}
			ep.PID = binary.LittleEndian.Uint32(r[20:24])
		}
		if state != mibTCPStateListen {
			continue
		}
		ep.Proto = "tcp"
		out = append(out, ep)
	}
	return out, nil
}

// ParseUDPTable decodes a MIB_UDPTABLE_OWNER_PID (v6 false) or
// MIB_UDP6TABLE_OWNER_PID: every bound UDP socket.
func ParseUDPTable(buf []byte, v6 bool) ([]Endpoint, error) {
	size := udp4RowSize
	if v6 {
		size = udp6RowSize
	}
	n, err := tableRows(buf, size)
	if err != nil {
		return nil, err
	}
	out := make([]Endpoint, 0, n)
	for i := range n {
		r := buf[4+i*size : 4+(i+1)*size]
		ep := Endpoint{Proto: "udp"}
		if v6 {
			ep.Addr, ep.Port, ep.PID = netip.AddrFrom16([16]byte(r[0:16])), port(r[20:24]), binary.LittleEndian.Uint32(r[24:28])
		} else {
			ep.Addr, ep.Port, ep.PID = netip.AddrFrom4([4]byte(r[0:4])), port(r[4:8]), binary.LittleEndian.Uint32(r[8:12])
		}
		out = append(out, ep)
	}
	return out, nil
}

// Dynamic (ephemeral) port range Windows assigns from since Vista.
const (
	dynamicPortFirst = 49152
	dynamicPortLast  = 65535
)

// systemPID is the kernel's "System" process, which owns sockets that
// kernel-mode servers (SMB, HTTP.sys) open. It has no image file.
const systemPID = 4

// Ports builds the ports section. processName returns a process's image
// file name ("svchost.exe") or "" when it cannot be read.
//
// Windows' UDP table cannot tell a server's socket from a client's: every
// DNS lookup, browser and updater binds one for a moment in the dynamic
// range. Those would make the section differ at every collection, so UDP
// sockets in the dynamic range are left out; UDP services listen on fixed
// ports below it. TCP listeners are kept on any port: only servers listen.
func Ports(eps []Endpoint, processName func(pid uint32) string) inventory.Ports {
	names := make(map[uint32]string)
	out := inventory.Ports{Ports: []inventory.Port{}}
	for _, ep := range eps {
		if ep.Proto == "udp" && ep.Port >= dynamicPortFirst && ep.Port <= dynamicPortLast {
			continue
		}
		name, ok := names[ep.PID]
		if !ok {
			switch ep.PID {
			case 0:
			case systemPID:
				name = "System"
			default:
				name = processName(ep.PID)
			}
			names[ep.PID] = name
		}
		out.Ports = append(out.Ports, inventory.Port{
			Proto:   ep.Proto,
			Address: ep.Addr.Unmap().String(),
			Port:    int(ep.Port),
			Process: name,
		})
	}
	slices.SortFunc(out.Ports, comparePorts)
	out.Ports = slices.Compact(out.Ports)
	return out
}

func comparePorts(a, b inventory.Port) int {
	return cmp.Or(
		strings.Compare(a.Proto, b.Proto),
		cmp.Compare(a.Port, b.Port),
		strings.Compare(a.Address, b.Address),
		strings.Compare(a.Process, b.Process),
	)
}

// ImageBaseName returns the file name of a process image path as
// QueryFullProcessImageName returns it ("C:\Windows\System32\svchost.exe").
func ImageBaseName(path string) string {
	if i := strings.LastIndexAny(path, `\/`); i >= 0 {
		return path[i+1:]
	}
	return path
}

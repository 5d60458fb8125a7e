package collect

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// The live kernel lists listening sockets through sock_diag netlink, as
// ss does, instead of /proc/net/tcp: reading that file walks the whole
// established-connection hash table (about 5 ms of system time even on an
// idle machine, more on a busy server), while a dump asking only for
// listening sockets never touches it. /proc/net stays the fallback for
// kernels without sock_diag (udp_diag is a module) and the source for
// fixture trees.

// socketDumper is implemented by kernels that can list listening sockets
// themselves.
type socketDumper interface {
	listeningSockets(proto string, v6 bool) ([]listenSocket, error)
}

// Layout of linux/inet_diag.h and linux/sock_diag.h.
const (
	inetDiagReqSize = 56 // struct inet_diag_req_v2
	inetDiagMsgSize = 72 // struct inet_diag_msg
	tcpListenState  = 10 // TCP_LISTEN
	tcpCloseState   = 7  // TCP_CLOSE: an unconnected UDP socket
)

func (k liveKernel) listeningSockets(proto string, v6 bool) ([]listenSocket, error) {
	if k.offline {
		return nil, errLiveOnly
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("sock_diag socket: %w", err)
	}
	defer unix.Close(fd)
	// The kernel answers at once; the timeout only guards against a
	// reply that never comes leaving the collector's goroutine behind.
	tv := unix.NsecToTimeval(int64(2 * time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return nil, fmt.Errorf("sock_diag timeout: %w", err)
	}
	family, protocol, state := byte(unix.AF_INET), byte(unix.IPPROTO_TCP), uint32(tcpListenState)
	if v6 {
		family = unix.AF_INET6
	}
	if proto == "udp" {
		protocol, state = unix.IPPROTO_UDP, tcpCloseState
	}
	req := make([]byte, unix.SizeofNlMsghdr+inetDiagReqSize)
	binary.NativeEndian.PutUint32(req[0:], uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	binary.NativeEndian.PutUint32(req[8:], 1) // sequence number
	body := req[unix.SizeofNlMsghdr:]
	body[0], body[1] = family, protocol
	binary.NativeEndian.PutUint32(body[4:], 1<<state)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("sock_diag request: %w", err)
	}
	return readDiagDump(fd, proto, state)
}

func readDiagDump(fd int, proto string, state uint32) ([]listenSocket, error) {
	var out []listenSocket
	buf := make([]byte, 32<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, fmt.Errorf("sock_diag reply: %w", err)
		}
		for b := buf[:n]; len(b) >= unix.SizeofNlMsghdr; {
			size := int(binary.NativeEndian.Uint32(b[0:]))
			if size < unix.SizeofNlMsghdr || size > len(b) {
				return nil, fmt.Errorf("sock_diag reply: bad message length %d", size)
			}
			data := b[unix.SizeofNlMsghdr:size]
			switch binary.NativeEndian.Uint16(b[4:]) {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(data) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(data)); code < 0 {
						return nil, fmt.Errorf("sock_diag: %w", unix.Errno(-code))
					}
				}
				return nil, fmt.Errorf("sock_diag: error reply")
			case unix.SOCK_DIAG_BY_FAMILY:
				if s, ok := parseDiagMsg(data, proto, state); ok {
					out = append(out, s)
				}
			}
			// Messages are padded to 4 bytes (NLMSG_ALIGN).
			size = (size + 3) &^ 3
			if size > len(b) {
				break
			}
			b = b[size:]
		}
	}
}

// parseDiagMsg decodes a struct inet_diag_msg. Ports and addresses are in
// network byte order; the uid and inode in the machine's own.
func parseDiagMsg(b []byte, proto string, state uint32) (listenSocket, bool) {
	if len(b) < inetDiagMsgSize || uint32(b[1]) != state {
		return listenSocket{}, false
	}
	id := b[4:52] // struct inet_diag_sockid
	sport := int(binary.BigEndian.Uint16(id[0:]))
	dport := binary.BigEndian.Uint16(id[2:])
	var src, dst netip.Addr
	if b[0] == unix.AF_INET {
		src, dst = netip.AddrFrom4([4]byte(id[4:8])), netip.AddrFrom4([4]byte(id[20:24]))
	} else {
		src, dst = netip.AddrFrom16([16]byte(id[4:20])), netip.AddrFrom16([16]byte(id[20:36]))
	}
	if proto == "udp" && (dport != 0 || !dst.IsUnspecified()) {
		return listenSocket{}, false // connected
	}
	return listenSocket{
		proto: proto,
		addr:  src,
		port:  sport,
		uid:   uint64(binary.NativeEndian.Uint32(b[64:])),
		inode: uint64(binary.NativeEndian.Uint32(b[68:])),
	}, true
}

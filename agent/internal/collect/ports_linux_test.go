package collect

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

func TestPortsFixtures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		want []inventory.Port
	}{
		// Left out: established and connected sockets. 8080 is held twice
		// by nginx (SO_REUSEPORT) and listed once; 5432 is held by two
		// postgres processes, and the lowest pid names it; nobody holds
		// 9999 that the agent can see. Users not in /etc/passwd are uids.
		{"systemd-host", []inventory.Port{
			{Proto: "tcp", Address: "0.0.0.0", Port: 22, Process: "sshd", User: "root"},
			{Proto: "tcp", Address: "::", Port: 22, Process: "sshd", User: "root"},
			{Proto: "tcp", Address: "10.0.0.2", Port: 443, Process: "nginx", User: "root"},
			{Proto: "tcp", Address: "10.0.0.10", Port: 443, Process: "nginx", User: "root"},
			{Proto: "tcp", Address: "::1", Port: 631, Process: "cupsd", User: "root"},
			{Proto: "tcp", Address: "127.0.0.1", Port: 5432, Process: "postgres", User: "110"},
			{Proto: "tcp", Address: "0.0.0.0", Port: 8080, Process: "nginx", User: "root"},
			{Proto: "tcp", Address: "::ffff:127.0.0.1", Port: 8443, Process: "nginx", User: "33"},
			{Proto: "tcp", Address: "0.0.0.0", Port: 9999, User: "alice"},
			{Proto: "udp", Address: "127.0.0.53", Port: 53, Process: "systemd-resolve", User: "101"},
			{Proto: "udp", Address: "0.0.0.0", Port: 68, Process: "dhclient", User: "root"},
			{Proto: "udp", Address: "fe80::1", Port: 546, Process: "dhcpcd", User: "root"},
			{Proto: "udp", Address: "::", Port: 5353, Process: "avahi-daemon", User: "107"},
		}},
		// Nothing listens, and IPv6 is disabled (no tcp6, udp6).
		{"sysv-container", []inventory.Port{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v, err := collectPorts(context.Background(), fixture(t, servicesFixtures+c.name).withDefaults())
			if err != nil {
				t.Fatal(err)
			}
			if got := v.(inventory.Ports).Ports; !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestPortsOfflineRoot(t *testing.T) {
	t.Parallel()
	cfg := Config{Root: fixture(t, servicesFixtures+"systemd-host").Root}.withDefaults()
	if _, err := collectPorts(context.Background(), cfg); !errors.Is(err, errLiveOnly) {
		t.Errorf("err = %v, want errLiveOnly", err)
	}
	if _, err := cfg.kernel.(socketDumper).listeningSockets("tcp", false); !errors.Is(err, errLiveOnly) {
		t.Errorf("sock_diag on an offline root: err = %v", err)
	}
}

func TestParseProcNet(t *testing.T) {
	t.Parallel()
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Fatal("these lines were captured on a little-endian machine")
	}
	const hdr = "  sl  local_address rem_address   st ...\n"
	cases := []struct {
		name, proto, in string
		want            []listenSocket
	}{
		{"tcp listen", "tcp", hdr + "   0: 0100007F:0277 00000000:0000 0A 00000000:00000000 00:00000000 00000000   120        0 31337 1 0000000000000000 100 0 0 10 0\n",
			[]listenSocket{{proto: "tcp", addr: netip.MustParseAddr("127.0.0.1"), port: 631, uid: 120, inode: 31337}}},
		{"tcp established skipped", "tcp", hdr + "   1: 0500000A:0016 0900000A:C822 01 00000000:00000000 02:000AFC7E 00000000     0        0 4242 4 0000000000000000 20 4 30 10 -1\n", nil},
		{"udp bound", "udp", hdr + "  5: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   107        0 900 2 0000000000000000 0\n",
			[]listenSocket{{proto: "udp", addr: netip.MustParseAddr("0.0.0.0"), port: 5353, uid: 107, inode: 900}}},
		{"udp connected skipped", "udp", hdr + "  6: 0500000A:9C40 08080808:0035 01 00000000:00000000 00:00000000 00000000  1000        0 901 2 0000000000000000 0\n", nil},
		{"tcp6 global address", "tcp", hdr + "   0: B80D0120000000000000000005000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0000000000000000 100 0 0 10 0\n",
			[]listenSocket{{proto: "tcp", addr: netip.MustParseAddr("2001:db8::5"), port: 443, inode: 77}}},
		{"malformed lines skipped", "tcp", hdr + "   0: zz:0016 00000000:0000 0A 0 0 0 0 0 1\n   1: 0100007F 00000000:0000 0A 0 0 0 0 0 1\nshort line\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := parseProcNet([]byte(c.in), c.proto); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// diagMsg builds a struct inet_diag_msg as the kernel sends it.
func diagMsg(family, state byte, src, dst netip.Addr, sport, dport uint16, uid, inode uint32) []byte {
	b := make([]byte, inetDiagMsgSize)
	b[0], b[1] = family, state
	binary.BigEndian.PutUint16(b[4:], sport)
	binary.BigEndian.PutUint16(b[6:], dport)
	copy(b[8:24], src.AsSlice())
	copy(b[24:40], dst.AsSlice())
	binary.NativeEndian.PutUint32(b[64:], uid)
	binary.NativeEndian.PutUint32(b[68:], inode)
	return b
}

func TestParseDiagMsg(t *testing.T) {
	t.Parallel()
	any4, any6 := netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("::")
	cases := []struct {
		name, proto string
		state       uint32
		msg         []byte
		want        listenSocket
		ok          bool
	}{
		{"tcp4 listen", "tcp", tcpListenState, diagMsg(2, 10, netip.MustParseAddr("192.168.1.5"), any4, 22, 0, 0, 123),
			listenSocket{proto: "tcp", addr: netip.MustParseAddr("192.168.1.5"), port: 22, inode: 123}, true},
		{"tcp6 listen", "tcp", tcpListenState, diagMsg(10, 10, netip.MustParseAddr("::1"), any6, 8080, 0, 1000, 456),
			listenSocket{proto: "tcp", addr: netip.MustParseAddr("::1"), port: 8080, uid: 1000, inode: 456}, true},
		{"udp unconnected", "udp", tcpCloseState, diagMsg(2, 7, any4, any4, 68, 0, 0, 789),
			listenSocket{proto: "udp", addr: any4, port: 68, inode: 789}, true},
		{"udp connected", "udp", tcpCloseState, diagMsg(2, 7, any4, netip.MustParseAddr("8.8.8.8"), 5000, 53, 0, 1), listenSocket{}, false},
		{"wrong state", "tcp", tcpListenState, diagMsg(2, 1, any4, any4, 22, 0, 0, 1), listenSocket{}, false},
		{"short message", "tcp", tcpListenState, make([]byte, 40), listenSocket{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := parseDiagMsg(c.msg, c.proto, c.state)
			if ok != c.ok || got != c.want {
				t.Errorf("got %+v %v, want %+v %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestSocketInode(t *testing.T) {
	t.Parallel()
	cases := map[string]uint64{"socket:[12345]": 12345, "pipe:[12345]": 0, "socket:[]": 0, "socket:[12": 0, "/dev/null": 0}
	for in, want := range cases {
		got, ok := socketInode([]byte(in))
		if got != want || ok != (want != 0) {
			t.Errorf("%s: %d %v", in, got, ok)
		}
	}
}

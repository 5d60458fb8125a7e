package wininv

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// Row builders in the iphlpapi layouts: DWORDs little-endian, addresses as
// their network-order bytes, ports in network order in a DWORD's low bytes.

func portDWORD(p uint16) []byte { return []byte{byte(p >> 8), byte(p), 0, 0} }

func le32(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }

func table(rows ...[]byte) []byte {
	b := le32(uint32(len(rows)))
	for _, r := range rows {
		b = append(b, r...)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// tcp4Row is MIB_TCPROW_OWNER_PID.
func tcp4Row(state uint32, local string, lport uint16, remote string, rport uint16, pid uint32) []byte {
	l, r := netip.MustParseAddr(local).As4(), netip.MustParseAddr(remote).As4()
	return cat(le32(state), l[:], portDWORD(lport), r[:], portDWORD(rport), le32(pid))
}

// tcp6Row is MIB_TCP6ROW_OWNER_PID.
func tcp6Row(state uint32, local string, lport uint16, pid uint32) []byte {
	l := netip.MustParseAddr(local).As16()
	return cat(l[:], le32(7), portDWORD(lport), make([]byte, 16), le32(0), portDWORD(0), le32(state), le32(pid))
}

// udp4Row is MIB_UDPROW_OWNER_PID; udp6Row is MIB_UDP6ROW_OWNER_PID.
func udp4Row(local string, port uint16, pid uint32) []byte {
	l := netip.MustParseAddr(local).As4()
	return cat(l[:], portDWORD(port), le32(pid))
}

func udp6Row(local string, port uint16, pid uint32) []byte {
	l := netip.MustParseAddr(local).As16()
	return cat(l[:], le32(0), portDWORD(port), le32(pid))
}

func TestParseSocketTables(t *testing.T) {
	const established = 5
	ep := func(proto, addr string, port uint16, pid uint32) Endpoint {
		return Endpoint{Proto: proto, Addr: netip.MustParseAddr(addr), Port: port, PID: pid}
	}
	for _, tc := range []struct {
		name  string
		parse func([]byte, bool) ([]Endpoint, error)
		v6    bool
		buf   []byte
		want  []Endpoint
	}{
		{"tcp4", ParseTCPTable, false, table(
			tcp4Row(mibTCPStateListen, "0.0.0.0", 445, "0.0.0.0", 0, 4),
			tcp4Row(established, "192.168.1.23", 50512, "20.42.65.92", 443, 8120),
			tcp4Row(mibTCPStateListen, "127.0.0.1", 6463, "0.0.0.0", 0, 9120),
		), []Endpoint{ep("tcp", "0.0.0.0", 445, 4), ep("tcp", "127.0.0.1", 6463, 9120)}},
		{"tcp6", ParseTCPTable, true, table(
			tcp6Row(mibTCPStateListen, "::", 3389, 1408),
			tcp6Row(established, "fe80::1", 49670, 5120),
		), []Endpoint{ep("tcp", "::", 3389, 1408)}},
		{"udp4", ParseUDPTable, false, table(
			udp4Row("0.0.0.0", 5353, 2540),
			udp4Row("192.168.1.23", 137, 4),
		), []Endpoint{ep("udp", "0.0.0.0", 5353, 2540), ep("udp", "192.168.1.23", 137, 4)}},
		{"udp6", ParseUDPTable, true, table(
			udp6Row("::1", 1900, 5432),
		), []Endpoint{ep("udp", "::1", 1900, 5432)}},
		{"empty", ParseUDPTable, false, table(), []Endpoint{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.parse(tc.buf, tc.v6)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseSocketTableErrors(t *testing.T) {
	full := table(tcp4Row(mibTCPStateListen, "0.0.0.0", 445, "0.0.0.0", 0, 4))
	for _, tc := range []struct {
		name string
		buf  []byte
	}{
		{"no count", []byte{1, 0}},
		{"row cut short", full[:len(full)-1]},
		{"count beyond rows", append(le32(2), full[4:]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseTCPTable(tc.buf, false); !errors.Is(err, ErrSocketTable) {
				t.Errorf("err = %v, want ErrSocketTable", err)
			}
		})
	}
}

// netEndpoint is Get-NetTCPConnection -State Listen (or Get-NetUDPEndpoint)
// | Select LocalAddress,LocalPort,OwningProcess | ConvertTo-Json.
type netEndpoint struct {
	LocalAddress  string
	LocalPort     uint16
	OwningProcess uint32
}

// process is Get-Process | Select Id,ProcessName,Path | ConvertTo-Json.
type process struct {
	ID   uint32 `json:"Id"`
	Path *string
}

func fixtureEndpoints(t *testing.T, name, proto string) []Endpoint {
	var out []Endpoint
	for _, e := range readJSON[netEndpoint](t, name) {
		addr, err := netip.ParseAddr(e.LocalAddress)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The socket tables carry the scope id apart; the live code does
		// not read it, so link-local addresses carry no zone.
		out = append(out, Endpoint{Proto: proto, Addr: addr.WithZone(""), Port: e.LocalPort, PID: e.OwningProcess})
	}
	return out
}

func TestPortsFixture(t *testing.T) {
	eps := append(fixtureEndpoints(t, "tcp-listen.json", "tcp"), fixtureEndpoints(t, "udp-endpoints.json", "udp")...)
	paths := map[uint32]string{}
	for _, p := range readJSON[process](t, "processes.json") {
		if p.Path != nil {
			paths[p.ID] = *p.Path
		}
	}
	asked := map[uint32]int{}
	got := Ports(eps, func(pid uint32) string {
		asked[pid]++
		return ImageBaseName(paths[pid])
	})
	checkGolden(t, "ports", got)

	has := func(p inventory.Port) bool { return slices.Contains(got.Ports, p) }
	for _, tc := range []struct {
		name string
		port inventory.Port
		want bool
	}{
		{"kernel SMB", inventory.Port{Proto: "tcp", Address: "0.0.0.0", Port: 445, Process: "System"}, true},
		{"RPC endpoint mapper on v6", inventory.Port{Proto: "tcp", Address: "::", Port: 135, Process: "svchost.exe"}, true},
		{"dynamic-range TCP listener", inventory.Port{Proto: "tcp", Address: "0.0.0.0", Port: 49664, Process: "lsass.exe"}, true},
		{"mDNS in Chrome", inventory.Port{Proto: "udp", Address: "0.0.0.0", Port: 5353, Process: "chrome.exe"}, true},
		{"mDNS in the DNS client", inventory.Port{Proto: "udp", Address: "0.0.0.0", Port: 5353, Process: "svchost.exe"}, true},
		{"link-local SSDP without zone", inventory.Port{Proto: "udp", Address: "fe80::1c2d:3e4f:5a6b:7c8d", Port: 1900, Process: "svchost.exe"}, true},
		{"ephemeral UDP client socket", inventory.Port{Proto: "udp", Address: "127.0.0.1", Port: 54321, Process: "svchost.exe"}, false},
		{"ephemeral UDP in Chrome", inventory.Port{Proto: "udp", Address: "0.0.0.0", Port: 61234, Process: "chrome.exe"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if has(tc.port) != tc.want {
				t.Errorf("listed = %v, want %v", !tc.want, tc.want)
			}
		})
	}
	t.Run("duplicate socket listed once", func(t *testing.T) {
		n := 0
		for _, p := range got.Ports {
			if p.Proto == "udp" && p.Port == 3702 {
				n++
			}
		}
		if n != 1 {
			t.Errorf("3702/udp listed %d times", n)
		}
	})
	t.Run("each process looked up once, System never", func(t *testing.T) {
		for pid, n := range asked {
			if n != 1 || pid == 4 || pid == 0 {
				t.Errorf("pid %d looked up %d times", pid, n)
			}
		}
	})
	t.Run("sorted", func(t *testing.T) {
		if !slices.IsSortedFunc(got.Ports, comparePorts) {
			t.Error("not sorted")
		}
	})
}

func TestImageBaseName(t *testing.T) {
	for in, want := range map[string]string{
		`C:\WINDOWS\system32\svchost.exe`: "svchost.exe",
		`\Device\HarddiskVolume3\x.exe`:   "x.exe",
		"plain.exe":                       "plain.exe",
		"":                                "",
	} {
		if got := ImageBaseName(in); got != want {
			t.Errorf("ImageBaseName(%q) = %q, want %q", in, got, want)
		}
	}
}

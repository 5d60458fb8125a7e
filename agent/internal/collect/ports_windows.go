package collect

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/steward-project/steward/agent/internal/collect/wininv"
)

var (
	iphlpapi                = windows.NewLazySystemDLL("iphlpapi.dll")
	procGetExtendedTCPTable = iphlpapi.NewProc("GetExtendedTcpTable")
	procGetExtendedUDPTable = iphlpapi.NewProc("GetExtendedUdpTable")
)

const (
	tcpTableOwnerPIDListener = 3 // TCP_TABLE_OWNER_PID_LISTENER: listening sockets with their PID
	udpTableOwnerPID         = 1 // UDP_TABLE_OWNER_PID: bound sockets with their PID
)

func collectPorts(_ context.Context, cfg Config) (any, error) {
	if err := liveWindows(cfg); err != nil {
		return nil, err
	}
	var eps []wininv.Endpoint
	for _, t := range []struct {
		proc  *windows.LazyProc
		class uint32
		af    uint32
		parse func([]byte, bool) ([]wininv.Endpoint, error)
	}{
		{procGetExtendedTCPTable, tcpTableOwnerPIDListener, windows.AF_INET, wininv.ParseTCPTable},
		{procGetExtendedTCPTable, tcpTableOwnerPIDListener, windows.AF_INET6, wininv.ParseTCPTable},
		{procGetExtendedUDPTable, udpTableOwnerPID, windows.AF_INET, wininv.ParseUDPTable},
		{procGetExtendedUDPTable, udpTableOwnerPID, windows.AF_INET6, wininv.ParseUDPTable},
	} {
		buf, err := socketTable(t.proc, t.af, t.class)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.proc.Name, err)
		}
		got, err := t.parse(buf, t.af == windows.AF_INET6)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.proc.Name, err)
		}
		eps = append(eps, got...)
	}
	return wininv.Ports(eps, processImages()), nil
}

// socketTable calls GetExtendedTcpTable or GetExtendedUdpTable (same
// signature: table, size, sort, address family, table class, reserved)
// and returns the filled buffer. The first call learns the size; sockets
// opened in between make the next one ask again, a few times at most.
func socketTable(proc *windows.LazyProc, af, class uint32) ([]byte, error) {
	if err := proc.Find(); err != nil {
		return nil, err
	}
	size := uint32(0)
	var buf []byte
	for range 5 {
		var p *byte
		if len(buf) > 0 {
			p = &buf[0]
		}
		r, _, _ := proc.Call(uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(&size)), 0,
			uintptr(af), uintptr(class), 0)
		switch status := windows.Errno(r); status {
		case 0:
			return buf, nil
		case windows.ERROR_INSUFFICIENT_BUFFER:
			// size now holds the size needed; leave room for a few
			// sockets opened before the next call, and pass what we have.
			buf = make([]byte, size+4096)
			size = uint32(len(buf))
		default:
			return nil, status
		}
	}
	return nil, errors.New("socket table kept growing")
}

// processImages returns a lookup of a process's image file name, sharing
// one path buffer. The limited query right suffices for other users' and
// protected processes; a process that exited since the table was taken
// has no name.
func processImages() func(pid uint32) string {
	buf := make([]uint16, windows.MAX_LONG_PATH)
	return func(pid uint32) string {
		h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
		if err != nil {
			return ""
		}
		defer windows.CloseHandle(h)
		n := uint32(len(buf)) // in characters; on return, the length without the NUL
		if err := windows.QueryFullProcessImageName(h, 0, &buf[0], &n); err != nil {
			return ""
		}
		return wininv.ImageBaseName(windows.UTF16ToString(buf[:n]))
	}
}

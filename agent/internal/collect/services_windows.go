package collect

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/steward-project/steward/agent/internal/collect/wininv"
)

// collectServices lists Win32 services (not drivers) with the SCM's
// EnumServicesStatusEx, which gives name, display name, type, state and
// exit code in one call, then asks QueryServiceConfig for each one's start
// type and command line. The manager is opened for enumeration only and
// each service for querying only, so this works without the full access
// mgr.Connect asks for.
func collectServices(ctx context.Context, cfg Config) (any, error) {
	if err := liveWindows(cfg); err != nil {
		return nil, err
	}
	scm, err := windows.OpenSCManager(nil, nil, windows.SC_MANAGER_CONNECT|windows.SC_MANAGER_ENUMERATE_SERVICE)
	if err != nil {
		return nil, fmt.Errorf("open service manager: %w", err)
	}
	defer windows.CloseServiceHandle(scm)
	records, err := enumServices(scm)
	if err != nil {
		return nil, fmt.Errorf("enumerate services: %w", err)
	}
	for i := range records {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		start, path, err := serviceConfig(scm, records[i].Name)
		if err != nil {
			// Deleted since the enumeration, or its ACL refuses queries:
			// the state is still known, the start mode is not.
			cfg.Logger.Debug("service config unreadable", "service", records[i].Name, "err", err)
			records[i].StartType = ^uint32(0)
			continue
		}
		records[i].StartType, records[i].Path = start, path
	}
	return wininv.Services(records), nil
}

// enumServices returns every Win32 service the caller may query.
// The buffer holds ENUM_SERVICE_STATUS_PROCESS entries followed by the
// strings they point to; it is sized by asking first, and asked again if
// a service appeared in between.
func enumServices(scm windows.Handle) ([]wininv.ServiceRecord, error) {
	var buf []byte
	var needed, count uint32
	for {
		var p *byte
		if len(buf) > 0 {
			p = &buf[0]
		}
		err := windows.EnumServicesStatusEx(scm, windows.SC_ENUM_PROCESS_INFO, windows.SERVICE_WIN32,
			windows.SERVICE_STATE_ALL, p, uint32(len(buf)), &needed, &count, nil, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, windows.ERROR_MORE_DATA) || needed <= uint32(len(buf)) {
			return nil, err
		}
		buf = make([]byte, needed)
	}
	if count == 0 {
		return nil, nil
	}
	entries := unsafe.Slice((*windows.ENUM_SERVICE_STATUS_PROCESS)(unsafe.Pointer(&buf[0])), count)
	out := make([]wininv.ServiceRecord, 0, count)
	for _, e := range entries {
		st := e.ServiceStatusProcess
		out = append(out, wininv.ServiceRecord{
			Name:        windows.UTF16PtrToString(e.ServiceName),
			DisplayName: windows.UTF16PtrToString(e.DisplayName),
			Type:        st.ServiceType,
			State:       st.CurrentState,
			ExitCode:    st.Win32ExitCode,
		})
	}
	return out, nil
}

// serviceConfig returns a service's dwStartType and lpBinaryPathName.
func serviceConfig(scm windows.Handle, name string) (uint32, string, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return 0, "", err
	}
	h, err := windows.OpenService(scm, p, windows.SERVICE_QUERY_CONFIG)
	if err != nil {
		return 0, "", err
	}
	defer windows.CloseServiceHandle(h)
	n := uint32(1024)
	for {
		buf := make([]byte, n)
		qc := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&buf[0]))
		err := windows.QueryServiceConfig(h, qc, n, &n)
		if err == nil {
			return qc.StartType, windows.UTF16PtrToString(qc.BinaryPathName), nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(buf)) {
			return 0, "", err
		}
	}
}

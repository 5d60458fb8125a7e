package wininv

import (
	"slices"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// ServiceRecord is one service as the service control manager describes
// it, in the SCM's own numbers (winsvc.h), so that the live code copies
// fields without interpreting them.
type ServiceRecord struct {
	Name        string
	DisplayName string
	// Path is the command line the SCM starts (BinaryPathName / PathName),
	// for shared services "svchost.exe -k group".
	Path string
	// Type is dwServiceType; 0 when unknown.
	Type uint32
	// State is dwCurrentState: SERVICE_STOPPED (1) to SERVICE_PAUSED (7).
	State uint32
	// StartType is dwStartType: boot (0), system (1), auto (2), demand (3),
	// disabled (4).
	StartType uint32
	// ExitCode is dwWin32ExitCode of the last stop.
	ExitCode uint32
}

// Service states, start types and type bits from winsvc.h / winnt.h.
const (
	ServiceStopped         = 1
	ServiceStartPending    = 2
	ServiceStopPending     = 3
	ServiceRunning         = 4
	ServiceContinuePending = 5
	ServicePausePending    = 6
	ServicePaused          = 7

	ServiceBootStart   = 0
	ServiceSystemStart = 1
	ServiceAutoStart   = 2
	ServiceDemandStart = 3
	ServiceDisabled    = 4

	// serviceUserServiceInstance marks the per-logon copy of a per-user
	// service template (CDPUserSvc_1a2b3c).
	serviceUserServiceInstance = 0x80

	errorServiceNeverStarted = 1077 // ERROR_SERVICE_NEVER_STARTED
)

// Services maps service records to the services section, sorted by name.
//
// Per-user service instances are left out: Windows creates one for each
// logon session, named after the template plus a random suffix, so they
// would churn the section at every logon; their templates are listed.
// "Automatic (Delayed Start)" is auto: the section has no finer mode. A stopped service whose last
// exit code is an error is "failed", as systemd would say.
func Services(records []ServiceRecord) inventory.Services {
	names := make(map[string]bool, len(records))
	for _, r := range records {
		names[strings.ToLower(r.Name)] = true
	}
	out := inventory.Services{Services: []inventory.Service{}}
	for _, r := range records {
		if r.Type&serviceUserServiceInstance != 0 || isUserServiceInstance(r.Name, names) {
			continue
		}
		out.Services = append(out.Services, inventory.Service{
			Name:        r.Name,
			DisplayName: r.DisplayName,
			State:       serviceState(r.State, r.ExitCode),
			StartMode:   startMode(r.StartType),
			Path:        r.Path,
		})
	}
	slices.SortFunc(out.Services, func(a, b inventory.Service) int {
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out
}

// isUserServiceInstance recognises an instance by name when its type is
// not known (records that came from WMI): "<template>_<hex LUID>" where
// the template is itself listed.
func isUserServiceInstance(name string, names map[string]bool) bool {
	i := strings.LastIndexByte(name, '_')
	if i <= 0 || i == len(name)-1 {
		return false
	}
	for _, c := range strings.ToLower(name[i+1:]) {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return names[strings.ToLower(name[:i])]
}

// serviceState maps dwCurrentState. Pending states count as the state they
// are heading to; a paused service is neither running nor stopped.
func serviceState(state, exitCode uint32) string {
	switch state {
	case ServiceRunning, ServiceStartPending, ServiceContinuePending:
		return inventory.ServiceRunning
	case ServiceStopped, ServiceStopPending:
		if exitCode != 0 && exitCode != errorServiceNeverStarted {
			return inventory.ServiceFailed
		}
		return inventory.ServiceStopped
	}
	return inventory.ServiceUnknown
}

// startMode maps dwStartType. Boot and system start apply to drivers,
// which the SCM lists apart; they start with the system, so "auto".
func startMode(t uint32) string {
	switch t {
	case ServiceAutoStart, ServiceBootStart, ServiceSystemStart:
		return inventory.StartAuto
	case ServiceDemandStart:
		return inventory.StartManual
	case ServiceDisabled:
		return inventory.StartDisabled
	}
	return inventory.ServiceUnknown
}

package wininv

import (
	"slices"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// win32Service is a Win32_Service instance as
// Get-CimInstance Win32_Service | Select Name,DisplayName,State,StartMode,PathName,ExitCode,ServiceType | ConvertTo-Json
// writes it.
type win32Service struct {
	Name, DisplayName, State, StartMode, PathName, ServiceType string
	ExitCode                                                   uint32
}

// record translates WMI's words back into the SCM numbers the live code
// copies from QueryServiceStatusEx and QueryServiceConfig, so that both
// feed Services the same record.
func (s win32Service) record() ServiceRecord {
	states := map[string]uint32{
		"Stopped": ServiceStopped, "Start Pending": ServiceStartPending, "Stop Pending": ServiceStopPending,
		"Running": ServiceRunning, "Continue Pending": ServiceContinuePending,
		"Pause Pending": ServicePausePending, "Paused": ServicePaused,
	}
	starts := map[string]uint32{
		"Boot": ServiceBootStart, "System": ServiceSystemStart, "Auto": ServiceAutoStart,
		"Manual": ServiceDemandStart, "Disabled": ServiceDisabled,
	}
	types := map[string]uint32{"Own Process": 0x10, "Share Process": 0x20} // anything else: 0, unknown
	start, ok := starts[s.StartMode]
	if !ok {
		start = 0xff
	}
	return ServiceRecord{
		Name: s.Name, DisplayName: s.DisplayName, Path: s.PathName,
		Type: types[s.ServiceType], State: states[s.State], StartType: start, ExitCode: s.ExitCode,
	}
}

func TestServicesFixture(t *testing.T) {
	var records []ServiceRecord
	for _, s := range readJSON[win32Service](t, "services.json") {
		records = append(records, s.record())
	}
	got := Services(records)
	checkGolden(t, "services", got)

	byName := map[string]inventory.Service{}
	for _, s := range got.Services {
		byName[s.Name] = s
	}
	for _, tc := range []struct{ name, state, start string }{
		{"AJRouter", "stopped", "manual"},   // never started (1077) is not a failure
		{"ClickToRunSvc", "failed", "auto"}, // stopped with ERROR_PROCESS_ABORTED
		{"sppsvc", "running", "auto"},       // start pending
		{"ssh-agent", "stopped", "disabled"},
		{"CDPUserSvc", "stopped", "auto"}, // the per-user template stays
		{"wuauserv", "running", "manual"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ok := byName[tc.name]
			if !ok {
				t.Fatal("missing")
			}
			if s.State != tc.state || s.StartMode != tc.start {
				t.Errorf("got %s/%s, want %s/%s", s.State, s.StartMode, tc.state, tc.start)
			}
		})
	}
	t.Run("per-user instance left out", func(t *testing.T) {
		if _, ok := byName["CDPUserSvc_4f2a1"]; ok {
			t.Error("CDPUserSvc_4f2a1 listed")
		}
	})
	t.Run("path and display name kept", func(t *testing.T) {
		s := byName["Spooler"]
		if s.Path != `C:\WINDOWS\System32\spoolsv.exe` || s.DisplayName != "Print Spooler" {
			t.Errorf("got %+v", s)
		}
	})
}

func TestServiceMapping(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rec   ServiceRecord
		state string
		start string
	}{
		{"running auto", ServiceRecord{State: ServiceRunning, StartType: ServiceAutoStart}, "running", "auto"},
		{"continue pending", ServiceRecord{State: ServiceContinuePending, StartType: ServiceDemandStart}, "running", "manual"},
		{"stop pending", ServiceRecord{State: ServiceStopPending, StartType: ServiceAutoStart}, "stopped", "auto"},
		{"paused", ServiceRecord{State: ServicePaused, StartType: ServiceAutoStart}, "unknown", "auto"},
		{"pause pending", ServiceRecord{State: ServicePausePending, StartType: ServiceAutoStart}, "unknown", "auto"},
		{"stopped with service-specific error", ServiceRecord{State: ServiceStopped, ExitCode: 1066, StartType: ServiceDisabled}, "failed", "disabled"},
		{"stop pending with an error", ServiceRecord{State: ServiceStopPending, ExitCode: 1067, StartType: ServiceAutoStart}, "failed", "auto"},
		{"boot start", ServiceRecord{State: ServiceRunning, StartType: ServiceBootStart}, "running", "auto"},
		{"unknown state and start", ServiceRecord{State: 0, StartType: 9}, "unknown", "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rec.Name = "svc"
			got := Services([]ServiceRecord{tc.rec}).Services
			if len(got) != 1 || got[0].State != tc.state || got[0].StartMode != tc.start {
				t.Errorf("got %+v, want %s/%s", got, tc.state, tc.start)
			}
		})
	}
}

func TestUserServiceInstances(t *testing.T) {
	recs := []ServiceRecord{
		{Name: "OneSyncSvc", Type: 0x60},
		{Name: "OneSyncSvc_9b3e1", Type: 0xe0}, // instance by its type bit
		{Name: "WpnUserService_1a2b3c"},        // instance by name: its template is listed
		{Name: "WpnUserService", Type: 0x60},
		{Name: "Contoso_Agent_2"},          // "2" is hex, but no template "Contoso_Agent"
		{Name: "vmicvss_beef", Type: 0x20}, // ends in hex but no template
		{Name: "Intel_ABC", Type: 0x10},    // suffix not hex
		{Name: "LSM_"},                     // empty suffix
	}
	var got []string
	for _, s := range Services(recs).Services {
		got = append(got, s.Name)
	}
	want := []string{"Contoso_Agent_2", "Intel_ABC", "LSM_", "OneSyncSvc", "vmicvss_beef", "WpnUserService"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Package systemd holds Steward's systemd units. The .service files are
// the reference units, which packages may ship as they are; the .tmpl
// files are the same units as kardianos/service templates, which
// `steward-agent install` and `steward-server install` render: they differ
// from the reference only in ExecStart (the installing binary and the
// arguments it registers) and, for the server, User and Group (the
// service account). A test in the parent directory keeps the two in step
// and runs systemd-analyze verify on the rendered units.
package systemd

import _ "embed"

// AgentUnit is the steward-agent unit template (kardianos keys: Path,
// Arguments).
//
//go:embed steward-agent.service.tmpl
var AgentUnit string

// ServerUnit is the steward-server unit template (kardianos keys: Path,
// Arguments, UserName).
//
//go:embed steward-server.service.tmpl
var ServerUnit string

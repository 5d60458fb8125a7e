// Package windows holds the sources of the Windows installer: the WiX
// source wixl builds the MSI from (steward-agent.wxs), the tables wixl
// cannot express (tables.sql, applied with msibuild), and the template of
// agent.yaml (agent.yaml.template). msiconfig is the program the MSI runs
// to write agent.yaml. installers/packaging.MSI puts them together.
package windows

import "embed"

// Files holds steward-agent.wxs, tables.sql and agent.yaml.template.
//
//go:embed steward-agent.wxs tables.sql agent.yaml.template
var Files embed.FS

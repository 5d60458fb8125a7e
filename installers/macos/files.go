// Package macos holds the files of the macOS agent tarball that
// installers/packaging.MacOS builds: the launchd daemon definition
// (steward-agent.plist, named and labelled as `steward-agent install`
// names the service) and the script that installs it (install.sh).
package macos

import "embed"

// Files holds steward-agent.plist and install.sh.
//
//go:embed steward-agent.plist install.sh
var Files embed.FS

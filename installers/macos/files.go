// Package macos holds the files of the macOS agent tarball that
// installers/packaging.MacOS builds: the launchd daemon definition
// (com.steward.agent.plist) and the script that installs it (install.sh).
package macos

import "embed"

// Files holds com.steward.agent.plist and install.sh.
//
//go:embed com.steward.agent.plist install.sh
var Files embed.FS

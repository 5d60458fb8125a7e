package installers

import "embed"

// Units holds the systemd units of systemd/ (systemd/steward-agent.service
// and systemd/steward-server.service), so that the package builders in
// installers/packaging ship the very files this package verifies.
//
//go:embed systemd/*.service
var Units embed.FS

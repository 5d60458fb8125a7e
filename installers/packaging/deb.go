package packaging

import (
	_ "github.com/goreleaser/nfpm/v2/deb" // registers nfpm's deb packager
)

// Deb builds the Debian package of component ("agent" or "server") for
// o.Arch into o.OutDir and returns its path, e.g.
// steward-agent_1.2.0-1_arm64.deb. The agent package holds
// /usr/bin/steward-agent, /lib/systemd/system/steward-agent.service and
// the conffile /etc/steward/agent.yaml (with o.Enroll also
// /etc/steward/enroll-secret, mode 0600, and /etc/steward/ca.pem); the
// server package /usr/bin/steward-server, its unit and the conffile
// /etc/steward/server.yaml. docs/packages.md describes what the
// maintainer scripts do.
func Deb(component string, o Options) (string, error) {
	return buildLinux("deb", component, o)
}

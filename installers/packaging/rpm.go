package packaging

import (
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers nfpm's rpm packager
)

// RPM builds the RPM package of component ("agent" or "server") for
// o.Arch into o.OutDir and returns its path, e.g.
// steward-agent-1.2.0-1.aarch64.rpm. It holds what Deb's package holds,
// with the unit in /usr/lib/systemd/system and the configuration files
// marked %config(noreplace); the same scripts run as %pre, %post, %preun
// and %postun.
func RPM(component string, o Options) (string, error) {
	return buildLinux("rpm", component, o)
}

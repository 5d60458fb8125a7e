// Package installers holds what installs Steward on a machine, and the
// tests that check it:
//
//   - systemd/: the systemd units of the agent and the server, embedded
//     here as Units so that the packages ship the very files this
//     package's tests verify;
//   - packaging/: the builders of the installers, in Go: the .deb and
//     .rpm of the agent and the server (nfpm as a library), the agent's
//     Windows MSI (wixl and msibuild) and its macOS tarball, unconfigured
//     or configured to enroll with a server by themselves;
//   - windows/: the MSI's sources (WiX source, extra tables, agent.yaml
//     template) and msiconfig, the program the MSI runs to write
//     agent.yaml;
//   - macos/: the tarball's launchd daemon, steward-agent.plist, and its
//     install.sh;
//   - install.sh and install.ps1: one-line installers that download the
//     agent's package for the machine (.deb, .rpm, macOS tarball or MSI)
//     and install it enrolled with a server;
//   - cmd/packages: `make packages`, which builds every binary and every
//     unconfigured installer into dist/ with SHA256SUMS.
//
// See docs/packages.md and docs/installers-windows-macos.md.
package installers

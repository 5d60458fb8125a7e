// Package installers holds the files that install Steward as a system
// service (systemd units here; packages, MSI and launchd come later) and
// the tests that check them.
package installers

// Package version compares package versions by the rules of the package
// system that reported them (dpkg, rpm, pacman), so that a change from one
// version to another can be called an upgrade or a downgrade.
package version

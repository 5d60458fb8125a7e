// Package pkgdb reads installed-package databases from files: rpm, apk, pacman, snap, flatpak.
package pkgdb

#!/usr/bin/env bash
# Makes sure the Debian packages the tests need are present: installs them
# when running as root, otherwise names the exact command and fails.
set -euo pipefail

need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
have_cmd curl || need+=(curl)
have_cmd git || need+=(git)
have_cmd dpkg-query || need+=(dpkg)
have_cmd systemd-analyze || need+=(systemd)
have_cmd promtool || need+=(prometheus)
have_cmd prometheus-alertmanager || need+=(prometheus-alertmanager)
have_cmd rpmbuild || need+=(rpm)
have_cmd debootstrap || need+=(debootstrap)
have_cmd sqlite3 || need+=(sqlite3)
have_cmd pacman || need+=(pacman-package-manager)
have_cmd flatpak || need+=(flatpak)
# The package tests: maintainer scripts linted, packages installed with dpkg.
have_cmd shellcheck || need+=(shellcheck)
have_cmd dpkg-reconfigure || need+=(debconf)
have_cmd adduser || need+=(adduser)
# The Windows installer tests: the MSI is built with wixl, finished with
# msibuild, read back with msiinfo and msiextract, and signed with
# osslsigncode.
have_cmd wixl || need+=(wixl)
have_cmd msiinfo || need+=(msitools)
have_cmd osslsigncode || need+=(osslsigncode)
# The CIS pack benchmark runs OpenSCAP on this machine (the comparison test
# installs its own copy inside the Debian image it scans).
have_cmd oscap || need+=(openscap-scanner)
# The comparison test decompresses the reference datastream with xz.
have_cmd xz || need+=(xz-utils)

if [ ${#need[@]} -eq 0 ]; then
	echo "all test prerequisites present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "missing Debian packages: ${need[*]}" >&2
	echo "install them with: sudo apt-get install -y ${need[*]}" >&2
	exit 1
fi
echo "installing: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends "${need[@]}" || {
	apt-get update
	apt-get install -y --no-install-recommends "${need[@]}"
}

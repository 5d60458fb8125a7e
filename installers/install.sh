#!/bin/sh
# Installs the Steward agent on this Linux or macOS machine and enrolls it
# with a steward-server:
#
#   curl -fsSLO https://packages.example.com/steward/install.sh
#   STEWARD_ENROLL_SECRET=... sudo -E sh install.sh \
#       --server https://steward.example.com:8443 \
#       --packages-url https://packages.example.com/steward
#
# It picks the package for this machine (.deb on Debian and Ubuntu and
# their derivatives, .rpm on Fedora, RHEL and SUSE families, the tarball on
# macOS; amd64 or arm64), downloads it from --packages-url, writes the
# enrollment to /etc/steward/enroll.env (mode 0600) so that the package's
# scripts enroll the agent and start it, and installs the package. On
# macOS the tarball's own install.sh does the rest.
#
# --packages-url is the base URL the packages are published under, with
# these names (VERSION from --version, else from the file LATEST there):
#   steward-agent_VERSION-1_amd64.deb    steward-agent_VERSION-1_arm64.deb
#   steward-agent-VERSION-1.x86_64.rpm   steward-agent-VERSION-1.aarch64.rpm
#   steward-agent-VERSION-darwin-amd64.tar.gz
#   steward-agent-VERSION-darwin-arm64.tar.gz
# It defaults to SERVER/packages, for a server published behind a web
# server or proxy that also serves the packages there; steward-server
# itself does not serve them. --package FILE installs a file already here
# instead of downloading.
#
# Plain http:// is refused for the server and the packages unless the host
# is this machine (localhost, 127.x.x.x, [::1]) or --insecure-http is given:
# the enroll secret, and packages run as root, would cross the network
# unprotected.
#
# STEWARD_DESTDIR, when set, is put in front of /etc/steward (and the root
# check is skipped), and STEWARD_OS_RELEASE replaces /etc/os-release: for
# tests only. With STEWARD_INSTALL_LIB=1 the script only defines its
# functions, for a test that sources it.
set -eu

say() { printf 'install.sh: %s\n' "$*"; }
die() {
	printf 'install.sh: %s\n' "$*" >&2
	exit "${2:-1}"
}

usage() {
	cat <<'EOF'
usage: install.sh --server URL [--enroll-secret-file FILE] [--ca-file FILE]
                  [--packages-url URL] [--version VERSION] [--package FILE]
                  [--insecure-http] [--dry-run]

  --server URL               steward-server URL (https://host[:port])
  --enroll-secret-file FILE  file holding the enroll secret (else STEWARD_ENROLL_SECRET)
  --ca-file FILE             PEM CA certificate(s) of the server's TLS certificate
  --packages-url URL         where the packages are published (default SERVER/packages)
  --version VERSION          package version (default: the file LATEST under --packages-url)
  --package FILE             install this package file instead of downloading one
  --insecure-http            allow plain http:// to a host other than this machine
  --dry-run                  print what would be done, change nothing
EOF
}

# url_policy URL INSECURE: succeeds when URL may be used. https is always
# fine; http only to this machine unless INSECURE is yes. The same three
# patterns are in installers/macos/install.sh and installers/install.ps1
# (and a test checks that all three agree): [!-~] is any printable ASCII
# character but space, and the match ignores case.
STEWARD_SECURE_RE='^https://[!-~]+$'
STEWARD_LOOPBACK_RE='^http://(localhost|127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|\[::1\])(:[0-9]+)?([/?#][!-~]*)?$'
STEWARD_HTTP_RE='^http://[!-~]+$'
url_policy() {
	# grep matches line by line: a URL with a line break is refused
	# before it could sneak a second line past the patterns.
	case $1 in
	*'
'*) return 1 ;;
	esac
	printf '%s\n' "$1" | grep -Eiq "$STEWARD_SECURE_RE" && return 0
	printf '%s\n' "$1" | grep -Eiq "$STEWARD_LOOPBACK_RE" && return 0
	[ "$2" = yes ] && printf '%s\n' "$1" | grep -Eiq "$STEWARD_HTTP_RE" && return 0
	return 1
}

# arch_of MACHINE: the package architecture of `uname -m`'s MACHINE.
arch_of() {
	case $1 in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64 | armv8*) echo arm64 ;;
	*) return 1 ;;
	esac
}

# family_of OS_RELEASE_FILE: deb or rpm, from ID and ID_LIKE.
family_of() {
	id='' like=''
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		ID=*) id=${line#ID=} ;;
		ID_LIKE=*) like=${line#ID_LIKE=} ;;
		esac
	done <"$1"
	# Values may be quoted; ID_LIKE is a space-separated list.
	for word in $(printf '%s %s' "$id" "$like" | tr -d '"'"'"); do
		case $word in
		debian | ubuntu | raspbian | linuxmint | pop | kali | devuan | elementary | zorin)
			echo deb
			return 0
			;;
		rhel | fedora | centos | rocky | almalinux | ol | amzn | suse | opensuse* | sles | sled | mariner | azurelinux)
			echo rpm
			return 0
			;;
		esac
	done
	return 1
}

# package_file FAMILY VERSION ARCH: the published file name.
package_file() {
	case $1 in
	deb) echo "steward-agent_$2-1_$3.deb" ;;
	rpm)
		case $3 in
		amd64) echo "steward-agent-$2-1.x86_64.rpm" ;;
		arm64) echo "steward-agent-$2-1.aarch64.rpm" ;;
		*) return 1 ;;
		esac
		;;
	darwin) echo "steward-agent-$2-darwin-$3.tar.gz" ;;
	*) return 1 ;;
	esac
}

# fetch URL FILE: downloads URL to FILE with curl or wget. curl follows
# redirects only to https when the URL is https, so that a redirect cannot
# undo the URL policy; wget has no such switch (curl is tried first).
fetch() {
	if command -v curl >/dev/null 2>&1; then
		case $(printf '%s' "$1" | cut -c1-8 | tr '[:upper:]' '[:lower:]') in
		https://) protos='=https' ;;
		*) protos='=http,https' ;;
		esac
		curl -fsSL --proto "$protos" -o "$2" "$1"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1"
	else
		die "neither curl nor wget is installed"
	fi
}

# run CMD...: runs CMD, or only prints it with --dry-run.
run() {
	if [ "$dry_run" = yes ]; then
		say "would run: $*"
	else
		"$@"
	fi
}

main() {
	server='' secret_file='' ca='' packages_url='' version='' package=''
	insecure=no dry_run=no
	while [ $# -gt 0 ]; do
		case $1 in
		--server) server=${2:?--server needs a URL} && shift ;;
		--server=*) server=${1#*=} ;;
		--enroll-secret-file) secret_file=${2:?--enroll-secret-file needs a file} && shift ;;
		--enroll-secret-file=*) secret_file=${1#*=} ;;
		--ca-file) ca=${2:?--ca-file needs a file} && shift ;;
		--ca-file=*) ca=${1#*=} ;;
		--packages-url) packages_url=${2:?--packages-url needs a URL} && shift ;;
		--packages-url=*) packages_url=${1#*=} ;;
		--version) version=${2:?--version needs a version} && shift ;;
		--version=*) version=${1#*=} ;;
		--package) package=${2:?--package needs a file} && shift ;;
		--package=*) package=${1#*=} ;;
		--insecure-http) insecure=yes ;;
		--dry-run) dry_run=yes ;;
		-h | --help)
			usage
			exit 0
			;;
		*)
			usage >&2
			exit 2
			;;
		esac
		shift
	done

	[ -n "$server" ] || die "--server is required" 2
	url_policy "$server" "$insecure" ||
		die "refusing server URL '$server': use https://, or http:// only to this machine (--insecure-http sends the enroll secret in the clear)" 2
	if [ -n "$secret_file" ]; then
		[ -r "$secret_file" ] || die "cannot read the enroll secret file $secret_file"
		secret=$(tr -d '\r\n' <"$secret_file" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
	else
		secret=${STEWARD_ENROLL_SECRET:-}
	fi
	[ -n "$secret" ] || die "no enroll secret: give --enroll-secret-file FILE or set STEWARD_ENROLL_SECRET" 2
	case $secret in
	*'
'*) die "the enroll secret spans lines" 2 ;;
	esac
	if [ -n "$ca" ]; then
		[ -r "$ca" ] || die "cannot read the CA file $ca"
		grep -q -- '-----BEGIN CERTIFICATE-----' "$ca" || die "$ca has no PEM certificate" 2
	fi

	machine=$(uname -m)
	arch=$(arch_of "$machine") || die "unsupported architecture $machine: packages exist for amd64 and arm64"
	case $(uname -s) in
	Linux)
		os_release=${STEWARD_OS_RELEASE:-/etc/os-release}
		[ -r "$os_release" ] || die "cannot read $os_release to tell a .deb from a .rpm system"
		family=$(family_of "$os_release") || die "unsupported distribution (see $os_release): packages exist for the Debian and Red Hat/SUSE families"
		;;
	Darwin) family=darwin ;;
	*) die "unsupported system $(uname -s): this script is for Linux and macOS (install.ps1 is for Windows)" ;;
	esac
	if [ -z "${STEWARD_DESTDIR:-}" ] && [ "$dry_run" = no ] && [ "$(id -u)" -ne 0 ]; then
		die "run it as root (sudo)"
	fi

	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	if [ -z "$package" ]; then
		[ -n "$packages_url" ] || packages_url=${server%/}/packages
		packages_url=${packages_url%/}
		url_policy "$packages_url" "$insecure" ||
			die "refusing packages URL '$packages_url': use https://, or http:// only to this machine (or --insecure-http)" 2
		if [ -z "$version" ]; then
			fetch "$packages_url/LATEST" "$work/LATEST" || die "cannot download $packages_url/LATEST; give --version"
			version=$(tr -d ' \t\r\n' <"$work/LATEST")
		fi
		case $version in
		'' | *[!A-Za-z0-9.+~-]*) die "version '$version' is not a package version" ;;
		esac
		file=$(package_file "$family" "$version" "$arch")
		package=$work/$file
		if [ "$dry_run" = yes ]; then
			say "would download $packages_url/$file"
		else
			say "downloading $packages_url/$file"
			fetch "$packages_url/$file" "$package" || die "cannot download $packages_url/$file"
		fi
	elif [ ! -r "$package" ]; then
		die "cannot read the package $package"
	fi

	if [ "$family" = darwin ]; then
		run tar -xzf "$package" -C "$work"
		if [ "$dry_run" = yes ]; then
			say "would run the tarball's install.sh --server $server${ca:+ --ca-file $ca}"
			return 0
		fi
		set -- "$work"/steward-agent-*/install.sh
		[ -f "$1" ] || die "$package has no install.sh"
		set -- "$1" --server "$server"
		[ -z "$ca" ] || set -- "$@" --ca-file "$ca"
		[ "$insecure" = no ] || set -- "$@" --insecure-http
		# The secret goes through the environment, not the command line.
		STEWARD_ENROLL_SECRET=$secret sh "$@"
		return 0
	fi

	# Linux: the package's scripts read enroll.env, enroll, start the
	# service and remove the file.
	etc=${STEWARD_DESTDIR:-}/etc/steward
	if [ "$dry_run" = yes ]; then
		say "would write $etc/enroll.env (mode 0600)${ca:+ and $etc/ca.pem}"
	else
		mkdir -p "$etc"
		ca_line=''
		if [ -n "$ca" ]; then
			cp "$ca" "$etc/ca.pem.new"
			chmod 0644 "$etc/ca.pem.new"
			mv -f "$etc/ca.pem.new" "$etc/ca.pem"
			ca_line="STEWARD_CA_FILE=/etc/steward/ca.pem"
		fi
		(
			umask 077
			{
				echo "# Written by install.sh; the package's scripts read it and remove it."
				echo "STEWARD_SERVER=$server"
				echo "STEWARD_ENROLL_SECRET=$secret"
				[ -z "$ca_line" ] || echo "$ca_line"
				[ "$insecure" = no ] || echo "STEWARD_INSECURE_HTTP=yes"
			} >"$etc/enroll.env.new"
		)
		mv -f "$etc/enroll.env.new" "$etc/enroll.env"
	fi
	case $family in
	deb) run dpkg -i "$package" ;;
	rpm) run rpm -U --replacepkgs "$package" ;;
	esac
	say "done: check the agent with 'steward-agent status'"
}

if [ "${STEWARD_INSTALL_LIB:-}" != 1 ]; then
	main "$@"
fi

#!/bin/sh
# Installs (or removes) the Steward agent on macOS as a launchd daemon.
# Run it as root from the directory of the unpacked tarball:
#
#   sudo ./install.sh --server https://steward.example.com:8443 \
#       --enroll-secret-file ./secret [--ca-file ./ca.pem] \
#       [--labels team=web,site=paris]
#   sudo ./install.sh                  # a configured tarball, or an upgrade
#   sudo ./install.sh --uninstall      # stop and remove everything
#
# The enroll secret can also come from STEWARD_ENROLL_SECRET. A configured
# tarball carries enroll.env (and ca.pem); flags override it. Running it
# again with a newer tarball upgrades the binary and keeps agent.yaml,
# changing only the settings given.
#
# What goes where:
#   /usr/local/bin/steward-agent
#   /Library/LaunchDaemons/steward-agent.plist
#   /Library/Application Support/Steward/agent.yaml      (0600)
#   /Library/Application Support/Steward/enroll-secret   (0600)
#   /Library/Application Support/Steward/ca.pem
#   /Library/Application Support/Steward/agent/          (state, node key)
#   /Library/Logs/Steward/steward-agent.log       (rotated by the agent)
#   /Library/Logs/Steward/steward-agent.err.log   (what it prints before that)
#
# The daemon's label and plist are those `steward-agent install` uses for
# the service steward-agent, so either way of installing makes the same
# service, which `steward-agent status`, `start` and `stop` manage.
#
# STEWARD_DESTDIR, when set, is put in front of every path above (and the
# root and macOS checks are skipped): for tests and staging only. With
# STEWARD_INSTALL_LIB=1 the script only defines its functions, for a test
# that sources it.
set -eu

LABEL=steward-agent
# The paths agent.yaml names; the ones below are where they are written.
SECRET_PATH="/Library/Application Support/Steward/enroll-secret"
CA_PATH="/Library/Application Support/Steward/ca.pem"
ROOT=${STEWARD_DESTDIR:-}
BIN=$ROOT/usr/local/bin/steward-agent
PLIST=$ROOT/Library/LaunchDaemons/$LABEL.plist
CONF_DIR="$ROOT/Library/Application Support/Steward"
CONFIG=$CONF_DIR/agent.yaml
SECRET_FILE=$ROOT$SECRET_PATH
CA_FILE=$ROOT$CA_PATH
LOG_DIR=$ROOT/Library/Logs/Steward
LOG=$LOG_DIR/steward-agent.log

HERE=$(cd "$(dirname "$0")" && pwd)

say() { printf 'steward-agent: %s\n' "$*"; }
die() {
	printf 'steward-agent: %s\n' "$*" >&2
	exit "${2:-1}"
}

usage() {
	cat <<'EOF'
usage: install.sh [--server URL] [--enroll-secret-file FILE] [--ca-file FILE]
                  [--labels KEY=VALUE,...] [--insecure-http]
       install.sh --uninstall

  --server URL               steward-server URL (https://host[:port])
  --enroll-secret-file FILE  file holding the enroll secret (or set STEWARD_ENROLL_SECRET)
  --ca-file FILE             PEM CA certificate(s) of the server's TLS certificate
  --labels K=V,K2=V2         host labels the agent enrolls with (replace those in agent.yaml)
  --insecure-http            allow a plain http:// server that is not on this machine
  --uninstall                stop the daemon and remove the agent, its settings and state
EOF
}

# url_policy URL INSECURE: succeeds when the agent may use URL. https is
# always fine; http only to this machine (localhost, 127.x.x.x, [::1])
# unless INSECURE is yes, since the enroll secret would cross the network
# in the clear. installers/install.sh and install.ps1 use the same
# patterns; a test checks that they agree.
STEWARD_SECURE_RE='^https://[!-~]+$'
STEWARD_LOOPBACK_RE='^http://(localhost|127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|\[::1\])(:[0-9]+)?([/?#][!-~]*)?$'
STEWARD_HTTP_RE='^http://[!-~]+$'
url_policy() {
	case $1 in
	*'
'*) return 1 ;;
	esac
	printf '%s\n' "$1" | grep -Eiq "$STEWARD_SECURE_RE" && return 0
	printf '%s\n' "$1" | grep -Eiq "$STEWARD_LOOPBACK_RE" && return 0
	[ "$2" = yes ] && printf '%s\n' "$1" | grep -Eiq "$STEWARD_HTTP_RE" && return 0
	return 1
}

# read_preseed FILE: the KEY=value lines of a configured tarball's
# enroll.env (quotes around a value are dropped; nothing is executed).
read_preseed() {
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		'' | '#'*) continue ;;
		esac
		key=${line%%=*}
		value=${line#*=}
		case $value in
		\"*\")
			value=${value#\"}
			value=${value%\"}
			;;
		\'*\')
			value=${value#\'}
			value=${value%\'}
			;;
		esac
		case $key in
		STEWARD_SERVER) pre_server=$value ;;
		STEWARD_ENROLL_SECRET) pre_secret=$value ;;
		STEWARD_CA_FILE) pre_ca=$value ;;
		STEWARD_LABELS) pre_labels=$value ;;
		esac
	done <"$1"
}

# yaml_quote VALUE: VALUE as a double-quoted YAML string.
yaml_quote() {
	printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g')"
}

# set_key FILE KEY VALUE: sets KEY to VALUE (quoted) in the YAML FILE,
# replacing an existing top-level "KEY:" line or appending one. The file
# keeps its other lines, so an administrator's edits stay.
set_key() {
	STEWARD_LINE="$2: $(yaml_quote "$3")" awk -v key="$2" '
		BEGIN { line = ENVIRON["STEWARD_LINE"]; done = 0 }
		!done && index($0, key ":") == 1 { print line; done = 1; next }
		{ print }
		END { if (!done) print line }
	' "$1" >"$1.new"
	mv -f "$1.new" "$1"
}

# delete_key FILE KEY: removes the top-level "KEY:" line.
delete_key() {
	awk -v key="$2" 'index($0, key ":") != 1' "$1" >"$1.new"
	mv -f "$1.new" "$1"
}

# labels_yaml LABELS: the "labels:" mapping of agent.yaml, from LABELS
# given as key=value pairs separated by commas (as `stewardctl package
# --labels` takes them), with keys and values double-quoted. It checks
# them as the agent does (keys of 1 to 63 letters, digits, '.', '_', '/'
# or '-'; values of at most 255 bytes without control characters; at
# most 64 labels) and fails, saying why on stderr, when they are not.
labels_yaml() {
	STEWARD_LABELS_IN=$1 LC_ALL=C awk '
		function fail(msg) {
			print "steward-agent: labels: " msg >"/dev/stderr"
			exit 1
		}
		# A double-quoted YAML string; the line and paragraph separators
		# and the byte order mark, which a YAML reader would not keep, as
		# escapes.
		function quote(s,   out, i, c, n) {
			out = ""
			n = length(s)
			for (i = 1; i <= n; i++) {
				c = substr(s, i, 1)
				if (c == "\\" || c == "\"") {
					out = out "\\" c
				} else if (substr(s, i, 3) == "\342\200\250") {
					out = out "\\u2028"
					i += 2
				} else if (substr(s, i, 3) == "\342\200\251") {
					out = out "\\u2029"
					i += 2
				} else if (substr(s, i, 3) == "\357\273\277") {
					out = out "\\ufeff"
					i += 2
				} else {
					out = out c
				}
			}
			return "\"" out "\""
		}
		BEGIN {
			n = split(ENVIRON["STEWARD_LABELS_IN"], pairs, ",")
			if (n > 64) fail(n " labels: at most 64")
			out = "labels:"
			for (i = 1; i <= n; i++) {
				p = pairs[i]
				sub(/^[ \t]+/, "", p)
				sub(/[ \t]+$/, "", p)
				eq = index(p, "=")
				if (eq == 0) fail("\"" p "\": want key=value")
				k = substr(p, 1, eq - 1)
				v = substr(p, eq + 1)
				if (k !~ /^[A-Za-z0-9][A-Za-z0-9._\/-]*$/ || length(k) > 63)
					fail("key \"" k "\": want 1 to 63 letters, digits, ., _, / or -, starting with a letter or digit")
				if (k in seen) fail(k " given twice")
				seen[k] = 1
				if (length(v) > 255 || v ~ /[\001-\037\177]/ || v ~ /\302[\200-\237]/)
					fail(k ": the value must be at most 255 bytes, without control characters")
				out = out "\n  " quote(k) ": " quote(v)
			}
			print out
		}'
}

# set_block FILE KEY BLOCK: replaces the top-level "KEY:" line of the YAML
# FILE and the indented lines under it with BLOCK (whole YAML lines), or
# appends BLOCK. The other lines stay.
set_block() {
	STEWARD_BLOCK=$3 awk -v key="$2" '
		BEGIN { block = ENVIRON["STEWARD_BLOCK"]; done = 0; skip = 0; held = "" }
		skip && /^[ \t]*$/ { held = held $0 "\n"; next }
		skip && /^[ \t]/ { held = ""; next }
		skip { skip = 0; printf "%s", held; held = "" }
		!done && index($0, key ":") == 1 { print block; done = 1; skip = 1; next }
		{ print }
		END { printf "%s", held; if (!done) print block }
	' "$1" >"$1.new"
	mv -f "$1.new" "$1"
}

# new_config: the agent.yaml of a first installation, before set_key.
new_config() {
	cat <<'EOF'
# /Library/Application Support/Steward/agent.yaml: configuration of the
# Steward agent, run by launchd (/Library/LaunchDaemons/steward-agent.plist)
# as `steward-agent run --config "/Library/Application Support/Steward/agent.yaml"`.
# install.sh changes only the settings it is given, so edits here stay.

# debug, info, warn or error.
log_level: info

# The agent writes its log here and rotates it by size.
log_file: /Library/Logs/Steward/steward-agent.log

# Where the node key and the agent's state live:
# state_dir: /Library/Application Support/Steward/agent

# Let policies run commands on this machine. Only this file can allow it:
# no server and no flag can.
# allow_commands: false

EOF
}

launchctl_quiet() { launchctl "$@" >/dev/null 2>&1 || true; }

uninstall() {
	launchctl_quiet bootout "system/$LABEL"
	rm -f "$PLIST" "$BIN"
	rm -rf "$CONF_DIR" "$LOG_DIR"
	say "removed: the daemon $LABEL, $BIN, $CONF_DIR (settings, enroll secret, state) and $LOG_DIR"
}

main() {
	server='' secret_file='' ca='' labels='' insecure=no action=install
	while [ $# -gt 0 ]; do
		case $1 in
		--server) server=${2:?--server needs a URL} && shift ;;
		--server=*) server=${1#*=} ;;
		--enroll-secret-file) secret_file=${2:?--enroll-secret-file needs a file} && shift ;;
		--enroll-secret-file=*) secret_file=${1#*=} ;;
		--ca-file) ca=${2:?--ca-file needs a file} && shift ;;
		--ca-file=*) ca=${1#*=} ;;
		--labels) labels=${2:?--labels needs key=value pairs} && shift ;;
		--labels=*) labels=${1#*=} ;;
		--insecure-http) insecure=yes ;;
		--uninstall) action=uninstall ;;
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

	if [ -z "$ROOT" ]; then
		[ "$(uname -s)" = Darwin ] || die "this installs the macOS agent; on Linux use the .deb or .rpm package"
		[ "$(id -u)" -eq 0 ] || die "run it as root (sudo $0 ...)"
	fi
	if [ "$action" = uninstall ]; then
		uninstall
		return 0
	fi

	# Settings: flags, then the environment, then a configured tarball's.
	pre_server='' pre_secret='' pre_ca='' pre_labels=''
	if [ -f "$HERE/enroll.env" ]; then
		read_preseed "$HERE/enroll.env"
	fi
	secret=''
	if [ -n "$secret_file" ]; then
		[ -r "$secret_file" ] || die "cannot read the enroll secret file $secret_file"
		secret=$(tr -d '\r\n' <"$secret_file" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')
		[ -n "$secret" ] || die "the enroll secret file $secret_file is empty"
	elif [ -n "${STEWARD_ENROLL_SECRET:-}" ]; then
		secret=$STEWARD_ENROLL_SECRET
	else
		secret=$pre_secret
	fi
	case $secret in
	*'
'*) die "the enroll secret spans lines" ;;
	esac
	[ -n "$server" ] || server=$pre_server
	[ -n "$labels" ] || labels=$pre_labels
	labels_block=''
	if [ -n "$labels" ]; then
		labels_block=$(labels_yaml "$labels") ||
			die "refusing the labels '$labels': give key=value pairs separated by commas, such as team=web,site=paris" 2
	fi
	if [ -z "$ca" ] && [ -n "$pre_ca" ]; then
		case $pre_ca in
		/*) ca=$pre_ca ;;
		*) ca=$HERE/$pre_ca ;;
		esac
	fi

	if [ -n "$server" ] && ! url_policy "$server" "$insecure"; then
		die "refusing server URL '$server': use https://, or http:// only to this machine (give --insecure-http to send the enroll secret in the clear)" 2
	fi
	if [ ! -f "$CONFIG" ]; then
		[ -n "$server" ] || die "no server: give --server URL (and the enroll secret)" 2
		[ -n "$secret" ] || die "no enroll secret: give --enroll-secret-file FILE or set STEWARD_ENROLL_SECRET" 2
	fi
	if [ -n "$ca" ]; then
		[ -r "$ca" ] || die "cannot read the CA file $ca"
		grep -q -- '-----BEGIN CERTIFICATE-----' "$ca" || die "$ca has no PEM certificate"
	fi
	[ -f "$HERE/steward-agent" ] || die "steward-agent is not next to install.sh ($HERE)"

	# Stop a running agent before replacing it.
	if [ -f "$PLIST" ]; then
		launchctl_quiet bootout "system/$LABEL"
	fi

	owner=''
	[ "$(id -u)" -eq 0 ] && owner=0:0
	mkdir -p "$(dirname "$BIN")" "$(dirname "$PLIST")" "$LOG_DIR" "$CONF_DIR"
	cp "$HERE/steward-agent" "$BIN.new"
	chmod 0755 "$BIN.new"
	# A tarball downloaded with a browser marks its files as quarantined.
	if command -v xattr >/dev/null 2>&1; then
		xattr -d com.apple.quarantine "$BIN.new" >/dev/null 2>&1 || true
	fi
	mv -f "$BIN.new" "$BIN"
	chmod 0755 "$CONF_DIR"

	(
		umask 077
		[ -f "$CONFIG" ] || new_config >"$CONFIG"
		if [ -n "$secret" ]; then
			printf '%s\n' "$secret" >"$SECRET_FILE.new"
			mv -f "$SECRET_FILE.new" "$SECRET_FILE"
			set_key "$CONFIG" enroll_secret_file "$SECRET_PATH"
			delete_key "$CONFIG" enroll_secret
		fi
		if [ -n "$ca" ]; then
			cp "$ca" "$CA_FILE.new"
			chmod 0644 "$CA_FILE.new"
			mv -f "$CA_FILE.new" "$CA_FILE"
			set_key "$CONFIG" ca_file "$CA_PATH"
		fi
		if [ -n "$server" ]; then
			set_key "$CONFIG" server "$server"
		fi
		if [ "$insecure" = yes ]; then
			set_key "$CONFIG" insecure_http true
		fi
		if [ -n "$labels_block" ]; then
			set_block "$CONFIG" labels "$labels_block"
		fi
	)
	chmod 0600 "$CONFIG"

	cp "$HERE/$LABEL.plist" "$PLIST.new"
	chmod 0644 "$PLIST.new"
	mv -f "$PLIST.new" "$PLIST"
	if [ -n "$owner" ]; then
		chown "$owner" "$BIN" "$PLIST" "$CONFIG"
		[ ! -f "$SECRET_FILE" ] || chown "$owner" "$SECRET_FILE"
		[ ! -f "$CA_FILE" ] || chown "$owner" "$CA_FILE"
	fi

	# enable clears a "disabled" override left by `launchctl disable`;
	# bootstrap loads the daemon, which starts it (RunAtLoad). Right after
	# a bootout launchd may still be tearing the old job down and refuse
	# (error 5), so it is tried a few times.
	launchctl_quiet enable "system/$LABEL"
	tries=0
	until launchctl bootstrap system "$PLIST"; do
		tries=$((tries + 1))
		[ "$tries" -lt 5 ] || die "launchctl bootstrap system $PLIST failed; see $LOG and: launchctl print system/$LABEL"
		sleep 1
	done
	say "installed $BIN and loaded the daemon $LABEL (settings: $CONFIG, log: $LOG)"
	say "status: sudo steward-agent status (or: sudo launchctl print system/$LABEL)"
}

if [ "${STEWARD_INSTALL_LIB:-}" != 1 ]; then
	main "$@"
fi

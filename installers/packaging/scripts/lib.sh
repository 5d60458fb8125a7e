# Helpers shared by every maintainer script. The package builder puts
# this text after a header that sets PKG_FORMAT (deb or rpm), PKG_NAME
# (steward-agent or steward-server) and BIN (the binary's path), and
# before the script of one phase.
#
# The service is registered, started and stopped through the binary's
# own commands (install, uninstall, start, stop, restart, status), which
# use systemd when it is the init system and SysV or OpenRC otherwise.

say() { printf '%s: %s\n' "$PKG_NAME" "$*"; }
warn() { printf '%s: warning: %s\n' "$PKG_NAME" "$*" >&2; }

# systemd_running is true when systemd is this machine's init.
systemd_running() { [ -d /run/systemd/system ]; }

# service_state prints running, stopped, absent (not registered) or
# unknown, from the exit status of `$BIN status`.
service_state() {
	if [ ! -x "$BIN" ]; then
		echo absent
		return 0
	fi
	state_rc=0
	"$BIN" status >/dev/null 2>&1 || state_rc=$?
	case $state_rc in
	0) echo running ;;
	3) echo stopped ;;
	4) echo absent ;;
	*) echo unknown ;;
	esac
}

# start_allowed says whether this machine lets packages start services:
# Debian container images and chroots forbid it with a policy-rc.d that
# exits 101. STEWARD_FORCE_START=1 in dpkg's environment overrides it.
start_allowed() {
	[ "${STEWARD_FORCE_START:-}" = 1 ] && return 0
	[ -x /usr/sbin/policy-rc.d ] || return 0
	policy_rc=0
	/usr/sbin/policy-rc.d "$PKG_NAME" start >/dev/null 2>&1 || policy_rc=$?
	[ "$policy_rc" -ne 101 ]
}

# start_service runs `$BIN start` or `$BIN restart` ($1), unless the
# machine forbids starting services. A failure is reported, not fatal:
# the package is installed either way.
start_service() {
	if ! start_allowed; then
		say "not starting the service: /usr/sbin/policy-rc.d forbids starting services here (a container image or chroot)."
		say "start it with: $BIN start"
		return 0
	fi
	start_rc=0
	start_out=$("$BIN" "$1" 2>&1) || start_rc=$?
	if [ "$start_rc" -eq 0 ]; then
		say "service ${1}ed"
	else
		warn "'$BIN $1' failed (exit $start_rc): $start_out"
		warn "when the cause is fixed, run: $BIN start"
	fi
}

# stop_service stops the service if it runs. It is never skipped: a
# removed package must not leave its binary running.
stop_service() {
	if [ "$(service_state)" = running ]; then
		"$BIN" stop || warn "'$BIN stop' failed"
	fi
}

# unregister_service undoes `$BIN install`'s registration (the binary
# still exists when prerm runs).
unregister_service() {
	if [ -x "$BIN" ] && [ "$(service_state)" != absent ]; then
		"$BIN" uninstall || warn "'$BIN uninstall' failed"
	fi
}

# init_note explains what registering means on a machine whose init is
# not systemd (a container, or SysV or OpenRC).
init_note() {
	systemd_running && return 0
	pid1=$(cat /proc/1/comm 2>/dev/null || echo unknown)
	warn "systemd is not this machine's init (PID 1 is $pid1), so the service was registered with the init system found instead$( [ -e "/etc/init.d/$PKG_NAME" ] && printf ' (/etc/init.d/%s)' "$PKG_NAME" )."
	warn "Nothing restarts $PKG_NAME if it stops, and it starts at boot only if this machine's init runs it."
}

# reload_systemd makes systemd read unit files the package added or
# removed; nothing to do without systemd.
reload_systemd() {
	if systemd_running; then
		systemctl daemon-reload >/dev/null 2>&1 || true
	fi
}

# forget_registration removes what `$BIN install` may have left behind
# once the binary that could undo it is gone: init scripts, their runlevel
# links (SysV uninstall leaves them dangling), generated unit files, logs
# and pid files. With purge=yes ($1) everything goes; otherwise only links
# that no longer point anywhere.
forget_registration() {
	for link in /etc/rc[0-6S].d/[SK][0-9][0-9]"$PKG_NAME"; do
		if [ -L "$link" ] && { [ "$1" = yes ] || [ ! -e "$link" ]; }; then
			rm -f "$link"
		fi
	done
	[ "$1" = yes ] || return 0
	rm -f "/etc/init.d/$PKG_NAME" "/etc/init/$PKG_NAME.conf" \
		"/etc/systemd/system/$PKG_NAME.service" \
		"/etc/systemd/system/multi-user.target.wants/$PKG_NAME.service" \
		"/var/run/$PKG_NAME.pid" "/run/$PKG_NAME.pid"
	# The service's log and its rotated copies.
	rm -f "/var/log/$PKG_NAME".log* "/var/log/$PKG_NAME".err*
}

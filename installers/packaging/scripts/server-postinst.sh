# steward-server after its files are in place (deb postinst, rpm %post).
#
# Makes sure the steward user and its data directory exist, registers the
# service with `steward-server install` (which keeps the existing
# /etc/steward/server.yaml) and starts it, or restarts it after an
# upgrade; the server applies pending database migrations as it starts.

case "$PKG_FORMAT:${1:-}" in
deb:configure)
	if [ -n "${2:-}" ]; then action=upgrade; else action=install; fi
	;;
deb:abort-upgrade | deb:abort-remove | deb:abort-deconfigure) action=upgrade ;;
rpm:1) action=install ;;
rpm:*) action=upgrade ;;
*) exit 0 ;;
esac

ensure_user
# Only the directory itself is set, never what is in it.
if [ ! -d "$DATA_DIR" ]; then
	mkdir -p "$DATA_DIR"
fi
chown "$USER_NAME:$USER_NAME" "$DATA_DIR"
chmod 0700 "$DATA_DIR"
reload_systemd

install_rc=0
install_out=$("$BIN" install 2>&1) || install_rc=$?
if [ "$install_rc" -ne 0 ]; then
	warn "'$BIN install' failed (exit $install_rc): $install_out"
	warn "the service is not registered; when the cause is fixed, run: $BIN install && $BIN start"
	exit 0
fi
[ -z "$install_out" ] || printf '%s\n' "$install_out"
init_note
if [ "$action" = upgrade ]; then
	start_service restart
else
	start_service start
	say "configuration: /etc/steward/server.yaml; data: $DATA_DIR."
	say "on its first start the server writes its admin API token to $DATA_DIR/admin-token and the agents' enroll secret to $DATA_DIR/enroll-secret."
fi
exit 0

# steward-agent after its files are in place (deb postinst, rpm %post).
#
# When the agent has a server and an enroll secret (a configured package's
# /etc/steward/agent.yaml, an agent.yaml written earlier, or
# /etc/steward/enroll.env dropped before installing), `steward-agent
# install` registers the service and it is started (restarted after an
# upgrade); the agent enrolls on its first run. Otherwise nothing is
# registered, so nothing can crash-loop, and the way to finish is printed.

CONFIG=/etc/steward/agent.yaml
SECRET_FILE=/etc/steward/enroll-secret
ENROLL_ENV=/etc/steward/enroll.env

case "$PKG_FORMAT:${1:-}" in
deb:configure)
	if [ -n "${2:-}" ]; then action=upgrade; else action=install; fi
	;;
deb:abort-upgrade | deb:abort-remove | deb:abort-deconfigure) action=upgrade ;;
rpm:1) action=install ;;
rpm:*) action=upgrade ;;
*) exit 0 ;;
esac

# how_to_finish prints the commands that set up an unconfigured agent.
how_to_finish() {
	cat <<EOF
$PKG_NAME is installed but not set up: no service is registered and nothing runs.
To finish, as root (add --ca-file /path/to/ca.pem for a server certificate signed by a private CA):
  (umask 077; echo 'THE-ENROLL-SECRET' > $SECRET_FILE)
  $BIN install --server https://steward.example.com:8080 --enroll-secret-file $SECRET_FILE
  $BIN start
EOF
	if [ "$PKG_FORMAT" = deb ]; then
		cat <<EOF
Or write $ENROLL_ENV with the lines STEWARD_SERVER=https://... and
STEWARD_ENROLL_SECRET=... (and STEWARD_CA_FILE=/path/to/ca.pem) and run:
  dpkg-reconfigure $PKG_NAME
EOF
	fi
}

# read_enroll_env reads KEY=value lines (optionally quoted, # comments)
# from $ENROLL_ENV without running it as shell code.
read_enroll_env() {
	env_server='' env_secret='' env_ca='' env_insecure=''
	cr=$(printf '\r')
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%"$cr"}
		case $line in
		'' | '#'*) continue ;;
		esac
		key=${line%%=*}
		value=${line#*=}
		key=${key#export }
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
		STEWARD_SERVER) env_server=$value ;;
		STEWARD_ENROLL_SECRET) env_secret=$value ;;
		STEWARD_CA_FILE) env_ca=$value ;;
		STEWARD_INSECURE_HTTP) env_insecure=$value ;;
		*) warn "$ENROLL_ENV: ignoring unknown key '$key'" ;;
		esac
	done <"$ENROLL_ENV"
}

reload_systemd

# Settings from enroll.env win over agent.yaml: whoever dropped the file
# wants them used. The secret moves to $SECRET_FILE (mode 0600) and
# enroll.env is removed once the agent took the settings.
set --
from_env=no
if [ -f "$ENROLL_ENV" ]; then
	read_enroll_env
	if [ -n "$env_server" ] && [ -n "$env_secret" ]; then
		(
			umask 077
			printf '%s\n' "$env_secret" >"$SECRET_FILE.new"
		)
		mv -f "$SECRET_FILE.new" "$SECRET_FILE"
		set -- --server "$env_server" --enroll-secret-file "$SECRET_FILE"
		if [ -n "$env_ca" ]; then
			set -- "$@" --ca-file "$env_ca"
		fi
		if [ "$env_insecure" = yes ]; then
			set -- "$@" --insecure-http
		fi
		from_env=yes
	else
		warn "$ENROLL_ENV needs both STEWARD_SERVER and STEWARD_ENROLL_SECRET; ignoring it"
	fi
fi

install_rc=0
install_out=$("$BIN" install "$@" 2>&1) || install_rc=$?
case $install_rc in
0)
	[ -z "$install_out" ] || printf '%s\n' "$install_out"
	if [ "$from_env" = yes ]; then
		rm -f "$ENROLL_ENV"
		say "took the server and enroll secret from $ENROLL_ENV (now removed; the secret is in $SECRET_FILE, the settings in $CONFIG)"
	fi
	init_note
	if [ "$action" = upgrade ]; then
		start_service restart
	else
		start_service start
	fi
	;;
2)
	# install names what is missing (a server URL, an enroll secret).
	printf '%s\n' "$install_out"
	how_to_finish
	;;
*)
	warn "'$BIN install' failed (exit $install_rc): $install_out"
	warn "the service is not registered; when the cause is fixed, run: $BIN install && $BIN start"
	;;
esac
exit 0

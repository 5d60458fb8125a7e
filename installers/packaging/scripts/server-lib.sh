# Helpers of the steward-server scripts, after lib.sh.

USER_NAME=steward
DATA_DIR=/var/lib/steward

# ensure_user creates the steward system user and group unless they
# exist: with adduser on Debian, useradd elsewhere.
ensure_user() {
	if getent passwd "$USER_NAME" >/dev/null 2>&1; then
		return 0
	fi
	if getent group "$USER_NAME" >/dev/null 2>&1; then
		have_group=yes
	else
		have_group=no
	fi
	if [ "$PKG_FORMAT" = deb ] && command -v adduser >/dev/null 2>&1; then
		if [ "$have_group" = yes ]; then
			set -- --ingroup "$USER_NAME"
		else
			set -- --group
		fi
		adduser --quiet --system "$@" --home "$DATA_DIR" --no-create-home \
			--shell /usr/sbin/nologin --gecos 'Steward server' "$USER_NAME"
	else
		if [ "$have_group" = yes ]; then
			set -- --gid "$USER_NAME"
		else
			set -- --user-group
		fi
		useradd --system "$@" --home-dir "$DATA_DIR" --no-create-home \
			--shell /usr/sbin/nologin --comment 'Steward server' "$USER_NAME"
	fi
}

# steward-server after its files are gone (deb postrm, rpm %postun).
#
# Removal keeps /etc/steward/server.yaml and the data in /var/lib/steward.
# dpkg --purge deletes /var/lib/steward: the embedded SQLite database,
# the admin token and the enroll secret, as Debian packages do with
# their own state. It never touches a PostgreSQL database named in
# server.yaml, a data_dir set elsewhere, or the steward user (files
# elsewhere may still belong to it). rpm has no purge: rpm -e keeps the
# data.

case "$PKG_FORMAT:${1:-}" in
deb:remove | rpm:0)
	forget_registration no
	reload_systemd
	;;
deb:purge)
	forget_registration yes
	rm -rf "$DATA_DIR"
	rm -f /etc/steward/server.yaml
	rmdir /etc/steward 2>/dev/null || true
	reload_systemd
	;;
esac
exit 0

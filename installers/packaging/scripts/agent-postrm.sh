# steward-agent after its files are gone (deb postrm, rpm %postun).
#
# Removal keeps the configuration (/etc/steward) and the state directory
# with the node key (/var/lib/steward-agent), so reinstalling brings back
# the same host. dpkg --purge deletes them too; rpm has no purge, so
# rpm -e leaves them (see docs/packages.md).

STATE_DIR=/var/lib/steward-agent

case "$PKG_FORMAT:${1:-}" in
deb:remove | rpm:0)
	forget_registration no
	reload_systemd
	;;
deb:purge)
	forget_registration yes
	# dpkg has already deleted the conffiles (agent.yaml, and the secret
	# and CA of a configured package); these are the files the scripts
	# and `steward-agent install` made.
	rm -rf "$STATE_DIR"
	rm -f /etc/steward/enroll-secret /etc/steward/enroll-secret.new \
		/etc/steward/enroll.env /etc/steward/agent.yaml
	rmdir /etc/steward 2>/dev/null || true
	reload_systemd
	;;
esac
exit 0

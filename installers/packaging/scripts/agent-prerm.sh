# steward-agent before its files go (deb prerm, rpm %preun).
#
# On removal the service is stopped and unregistered while the binary
# that does both is still there. On upgrade it keeps running: the new
# version's postinst restarts it.

case "$PKG_FORMAT:${1:-}" in
deb:remove | rpm:0)
	stop_service
	unregister_service
	;;
deb:deconfigure)
	stop_service
	;;
esac
exit 0

# steward-server before its files go (deb prerm, rpm %preun): stopped
# and unregistered on removal, left running on upgrade (the new version's
# postinst restarts it).

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

# steward-server before its files are unpacked (deb preinst, rpm %pre):
# the steward system user and group must exist first, since
# /etc/steward/server.yaml is unpacked as root:steward.

case "$PKG_FORMAT:${1:-}" in
deb:install | deb:upgrade | rpm:*) ensure_user ;;
esac
exit 0

#!/bin/sh
# Before removal (not an upgrade): stop the service. The journal, the keys
# and the configuration stay until a purge.
set -e
case "$1" in
remove|deconfigure)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now medterm.service >/dev/null 2>&1 || true
	fi
	;;
esac

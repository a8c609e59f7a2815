#!/bin/sh
# On purge only: the journal, its key, the token and the account go. A
# plain removal keeps them, so that a reinstall finds every bill.
set -e
case "$1" in
purge)
	rm -rf /var/lib/medterm /etc/medterm
	if getent passwd medterm >/dev/null; then
		deluser --system medterm >/dev/null 2>&1 || true
	fi
	if getent group medterm >/dev/null; then
		delgroup --system medterm >/dev/null 2>&1 || true
	fi
	;;
esac

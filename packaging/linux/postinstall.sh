#!/bin/sh
# After install or upgrade: the service account, the directories, the
# service (re)started, and medterm doctor's findings shown (never fatal:
# a terminal may be installed before it is configured).
set -e
if ! getent group medterm >/dev/null; then
	addgroup --system medterm >/dev/null
fi
# The state directory first, so that the account's home exists.
mkdir -p /var/lib/medterm
if ! getent passwd medterm >/dev/null; then
	adduser --system --ingroup medterm --home /var/lib/medterm --no-create-home --shell /usr/sbin/nologin medterm >/dev/null
fi
adduser medterm dialout >/dev/null 2>&1 || true
install -d -o medterm -g medterm -m 0750 /var/lib/medterm
chown root:medterm /etc/medterm /etc/medterm/medterm.toml
chmod 0750 /etc/medterm
chmod 0640 /etc/medterm/medterm.toml
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable medterm.service >/dev/null 2>&1 || true
	# An upgrade restarts the daemon on the journal as it was: the new
	# version migrates it (a copy kept first) and drains its backlog.
	systemctl restart medterm.service || true
fi
if command -v runuser >/dev/null 2>&1; then
	runuser -u medterm -- /usr/bin/medterm doctor --config /etc/medterm/medterm.toml || true
else
	/usr/bin/medterm doctor --config /etc/medterm/medterm.toml || true
fi

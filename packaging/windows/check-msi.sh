#!/bin/sh
# Checks what make msi built, as msiinfo lists it: the service under
# LocalService started on install, the files, the configuration and data
# folders kept, and each folder's ACL.
set -eu
msi=$1
fail() { echo "$msi: $*" >&2; exit 1; }
table() { msiinfo export "$msi" "$1"; }
table ServiceInstall | grep -q "medterm.*NT AUTHORITY\\\\LocalService.*serve --config" || fail "no medterm service under LocalService running serve --config"
table ServiceControl | grep -q "^MedtermServiceControl	medterm	" || fail "the service is not started on install and stopped on removal"
for f in medterm.exe SSCardDriver.dll medterm.toml README.md; do
	table File | grep -q "	$f	" || fail "no file $f"
done
table File | grep -q "^SSCardDriver32.dll	Driver32	" || fail "no 32-bit SSCardDriver.dll"
table Component | grep -q "^Config	.*	APPDATADIR	400	" || fail "the configuration is not permanent and never overwritten"
for c in DataFolder SecretsFolder LogsFolder; do
	table Component | grep -q "^$c	.*	272	" || fail "the folder of $c is not permanent"
done
acl() { table MsiLockPermissionsEx | grep "	$1	CreateFolder	" | cut -f4; }
[ "$(acl APPDATADIR)" = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;LS)(A;OICI;0x1200a9;;;BU)" ] || fail "the ACL of %ProgramData%\\medterm: $(acl APPDATADIR)"
[ "$(acl DATADIR)" = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1301bf;;;LS)" ] || fail "the journal folder must be the service's and the administrators' alone: $(acl DATADIR)"
[ "$(acl SECRETSDIR)" = "D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;LS)" ] || fail "the secrets folder: $(acl SECRETSDIR)"
table Upgrade | grep -q "WIX_UPGRADE_DETECTED" || fail "no in-place upgrade of older versions"
table Registry | grep -q "EventLog\\\\Application\\\\medterm" || fail "no event source"
echo "$msi: service medterm (LocalService), $(table File | tail -n +4 | wc -l) files, configuration and folders kept, ACLs of 4 folders, upgrade in place"

#!/bin/sh
# Installs the Debian packages that building, testing and the demo need.
# Idempotent and quiet when everything is there. Runs apt as root, or
# through sudo otherwise.
set -eu

# chromium and the CJK fonts: the kiosk page's browser tests (headless).
# openjdk-17-jdk-headless and libgoogle-gson-java: the Java HIS example's test;
# gcc-mingw-w64-x86-64 and -i686: the Windows DLLs (64- and 32-bit) of make cross; prometheus: promtool, for the alert rules;
# debootstrap: the Debian system the package test installs into;
# crossbuild-essential-arm64 and libpcsclite-dev:arm64 (the arm64
# architecture added to dpkg): the arm64 package's cgo cross build; file:
# its check; wixl and msitools: the MSI (make msi) and its check.

PACKAGES="pcscd vsmartcard-vpcd libpcsclite-dev pcsc-tools qrencode zbar-tools e2fsprogs chromium fonts-noto-cjk openjdk-17-jdk-headless libgoogle-gson-java gcc-mingw-w64-x86-64 gcc-mingw-w64-i686 prometheus debootstrap file crossbuild-essential-arm64 libpcsclite-dev:arm64 wixl msitools"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "setup: missing packages:$missing; run 'make setup' as root (sudo is not installed)" >&2
	exit 1
fi

echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	$SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null

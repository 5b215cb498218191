#!/bin/sh
# Installs the Debian packages BusBase needs to build, test and run, and only
# the ones that are missing. Non-interactive; run as root on Debian 12.
# Usage: deploy/install-deps.sh [--test]   (--test adds the test/bench tools)
set -eu
export DEBIAN_FRONTEND=noninteractive

BUILD="build-essential pkg-config libnng-dev libmicrohttpd-dev libsqlite3-dev \
libmsgpack-dev libjansson-dev libsodium-dev liboath-dev duktape-dev \
libcmocka-dev libcurl4-openssl-dev"
TEST="python3 sqlite3 curl wrk oathtool clang libclang-rt-14-dev"

want="$BUILD"
if [ "${1:-}" = "--test" ]; then
	want="$want $TEST"
fi

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	SUDO=""
	if [ "$(id -u)" != 0 ]; then
		SUDO="sudo"
	fi
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing
fi

# promtool (metrics format checks in the tests) without the prometheus daemon:
# unpack the Debian package into build/tools.
if [ "${1:-}" = "--test" ] && ! command -v promtool >/dev/null 2>&1 &&
    [ ! -x build/tools/usr/bin/promtool ]; then
	mkdir -p build/tools
	(cd build/tools && apt-get download prometheus -q &&
	    dpkg -x prometheus_*.deb . && rm -f prometheus_*.deb) ||
	    echo "install-deps: promtool unavailable; metrics lint skipped"
fi
exit 0

#!/bin/sh
# Set up mydocker on a fresh Debian/Ubuntu machine, as root: system packages, a venv in
# /opt/mydocker, and fast launchers in /usr/local/bin. Safe to run again.
set -eu
cd "$(dirname "$0")/.."
need=""
dpkg -s busybox-static >/dev/null 2>&1 || need="$need busybox-static"  # the image needs a static busybox
dpkg -s nftables >/dev/null 2>&1 || need="$need nftables"  # bridge networking: NAT and -p rules via `nft -j`
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need="$need python3-venv"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if [ -n "$need" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
fi
[ -x /opt/mydocker/bin/python ] || python3 -m venv /opt/mydocker
/opt/mydocker/bin/python -m pip install -q --upgrade pip >/dev/null
/opt/mydocker/bin/python -m pip install -q ".[test]"
(cd / && /opt/mydocker/bin/python -m mydocker.launcher /usr/local/bin >/dev/null)  # the installed copy, not this checkout
echo "mydocker installed: $(command -v mydocker)"

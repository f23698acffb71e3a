#!/bin/sh
# Set up mydocker on a fresh Debian/Ubuntu machine, as root: system packages, a venv in
# /opt/mydocker, and fast launchers in /usr/local/bin. Safe to run again.
set -eu
cd "$(dirname "$0")/.."
need=""
dpkg -s busybox-static >/dev/null 2>&1 || need="$need busybox-static"  # the image needs a static busybox
dpkg -s iputils-ping >/dev/null 2>&1 || need="$need iputils-ping"  # and ping without CAP_NET_RAW (ICMP datagram sockets)
dpkg -s nftables >/dev/null 2>&1 || need="$need nftables"  # bridge networking: NAT and -p rules via `nft -j`
# Debian's own python3 (static, PGO) starts ~0.7 ms faster than a shared-libpython build such as
# pyenv's, on every `mydocker` and `mydocker-runtime` call: the venv is made from it when it is 3.11+.
PY=python3
/usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && PY=/usr/bin/python3
"$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 || need="$need python3-venv"
command -v "$PY" >/dev/null 2>&1 || need="$need python3"
if [ -n "$need" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
fi
home="home = $(dirname "$(readlink -f "$(command -v "$PY")")")"
grep -qx "$home" /opt/mydocker/pyvenv.cfg 2>/dev/null || "$PY" -m venv --clear /opt/mydocker  # new, or on another python
/opt/mydocker/bin/python -m pip install -q --upgrade pip >/dev/null
/opt/mydocker/bin/python -m pip install -q ".[test]"
(cd / && /opt/mydocker/bin/python -m mydocker.launcher /usr/local/bin >/dev/null)  # the installed copy, not this checkout
echo "mydocker installed: $(command -v mydocker)"

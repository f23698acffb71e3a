#!/bin/sh
# Run the whole test suite, as root, installing what it needs first.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
# test dependencies: a local registry (and htpasswd for its auth tests), skopeo/umoci as oracles
dpkg -s docker-registry apache2-utils skopeo umoci >/dev/null 2>&1 || { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry apache2-utils skopeo umoci; }
exec /opt/mydocker/bin/python -m pytest -p no:cacheprovider "$@" tests

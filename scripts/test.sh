#!/bin/sh
# Run the whole test suite, as root, installing what it needs first.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
# Test peers and oracles (tests skip with a reason when one is missing):
#   docker-registry + apache2-utils (htpasswd): a local registry with basic auth
#   skopeo, umoci: image format oracles; podman, runc, crun, containerd, docker.io: real clients/peers
#   catatonit, tini: static inits for --init; zstd: zstd layers; iproute2: independent checks with `ip`
#   debootstrap: the debian:bookworm base of the nginx and flask + redis walk-throughs (slow tests)
#   etcd-server: the cluster store of overlay networks
#   containernetworking-plugins: the CNI bridge of the CRI tests (tests/e2e/test_cri.py)
#   docker-compose: Debian's 1.29 drives the API service (tests/e2e/test_api_netvol.py)
#   docker.io also brings the docker CLI 20.10 (/usr/bin/docker, API 1.41) that the API tests drive
#   beside the CLI 28 (tests/e2e/test_api_*.py: `each_cli`)
#   uidmap: newuidmap/newgidmap for rootless containers' subordinate ids (tests/e2e/test_rootless_runtime.py, test_rootless_engine.py)
#   slirp4netns: the rootless default network's user-mode stack (tests/integration/test_usermode_network.py)
peers="docker-registry apache2-utils skopeo umoci podman runc crun containerd docker.io catatonit tini zstd iproute2 debootstrap etcd-server containernetworking-plugins docker-compose uidmap slirp4netns"
missing=""
for p in $peers; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
exec /opt/mydocker/bin/python -m pytest -p no:cacheprovider "$@" tests

#!/bin/sh
# Run the whole test suite, as root, installing what it needs first.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec /opt/mydocker/bin/python -m pytest -p no:cacheprovider "$@" tests

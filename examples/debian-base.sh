#!/bin/sh
# Make the `debian:bookworm` image without Docker Hub: debootstrap a minimal Debian root
# filesystem from Debian's own mirror, then `mydocker import` it.
#
#   examples/debian-base.sh [IMAGE]            (default IMAGE: debian:bookworm)
#
# Environment:
#   MYDOCKER  the mydocker command (default: mydocker); e.g. "mydocker --root /tmp/r --runroot /tmp/rr"
#   MIRROR    Debian mirror (default: http://deb.debian.org/debian)
#   SUITE     Debian release (default: bookworm)
#   TARBALL   keep the root filesystem tar here and reuse it when it exists (saves the download)
# Needs root and the `debootstrap` package (apt-get install debootstrap).
set -eu

IMAGE=${1:-debian:bookworm}
MYDOCKER=${MYDOCKER:-mydocker}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-bookworm}
TARBALL=${TARBALL:-}

command -v debootstrap >/dev/null || { echo "debian-base.sh: debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }

if [ -z "$TARBALL" ] || [ ! -s "$TARBALL" ]; then
    work=$(mktemp -d /var/tmp/debian-base.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    echo ">>> debootstrap --variant=minbase $SUITE from $MIRROR"
    debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$MIRROR" >"$work/log" 2>&1 \
        || { tail -20 "$work/log" >&2; echo "debian-base.sh: debootstrap failed (log above)" >&2; exit 1; }
    # what Docker's debian images do: no caches, no docs-less surprises, apt sources pointing at the mirror
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    printf 'deb %s %s main\n' "$MIRROR" "$SUITE" > "$work/rootfs/etc/apt/sources.list"
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        > "$work/rootfs/etc/apt/apt.conf.d/90mydocker"
    : > "$work/rootfs/etc/hostname"
    out=${TARBALL:-$work/rootfs.tar}
    tar --numeric-owner --xattrs -C "$work/rootfs" -cf "$out.tmp" .
    mv "$out.tmp" "$out"
    TARBALL=$out
fi

echo ">>> $MYDOCKER import $TARBALL $IMAGE"
# shellcheck disable=SC2086  # MYDOCKER may carry global flags
$MYDOCKER import --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$TARBALL" "$IMAGE"

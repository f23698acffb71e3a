"""Media types of Docker schema 2 and OCI, and platform selection from an index / manifest list."""

from __future__ import annotations

import os

from mydocker.errors import InvalidArgument, NotFound

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEXES = (OCI_INDEX, DOCKER_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))

_ARCH = {"x86_64": ("amd64", ""), "aarch64": ("arm64", ""), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
         "i686": ("386", ""), "i386": ("386", ""), "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""),
         "riscv64": ("riscv64", "")}


def media_type(manifest: dict, header: str = "") -> str:
    """A manifest's media type: its own field, else the Content-Type, else guessed from its shape."""
    kind = manifest.get("mediaType") or header.split(";")[0].strip()
    if kind in INDEXES or kind in MANIFESTS or kind in DOCKER_SCHEMA1:
        return kind
    if manifest.get("schemaVersion") == 1:
        return DOCKER_SCHEMA1[0]
    return OCI_INDEX if "manifests" in manifest else OCI_MANIFEST


def host_platform() -> tuple[str, str, str]:
    machine = os.uname().machine
    arch, variant = _ARCH.get(machine, (machine, ""))
    return "linux", arch, variant


def parse_platform(text: str | None) -> tuple[str, str, str]:
    """'linux/arm64/v8' -> ('linux', 'arm64', 'v8'); None -> the host's."""
    if not text:
        return host_platform()
    parts = text.lower().split("/")
    if len(parts) == 1 and parts[0]:
        parts = ["linux", parts[0]]
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: use os/arch[/variant], e.g. linux/arm64")
    arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}.get(parts[1], parts[1])
    variant = parts[2] if len(parts) == 3 else ""
    if arch == "arm64" and variant == "v8":
        variant = ""  # arm64 is v8 unless said otherwise
    return parts[0], arch, variant


def format_platform(os_: str, arch: str, variant: str = "") -> str:
    return "/".join(p for p in (os_, arch, variant) if p)


def select(index: dict, wanted: tuple[str, str, str], name: str) -> dict:
    """The descriptor in an index that matches the platform (exact variant first, then any variant)."""
    os_, arch, variant = wanted
    candidates = []
    for desc in index.get("manifests", []):
        p = desc.get("platform") or {}
        if p.get("os") != os_ or p.get("architecture") != arch:
            continue
        got = p.get("variant", "")
        if arch == "arm64" and got == "v8":
            got = ""
        if got == variant:
            return desc
        if not variant:
            candidates.append(desc)
    if candidates:
        return candidates[0]
    offered = sorted({format_platform(d["platform"].get("os", "?"), d["platform"].get("architecture", "?"),
                                      d["platform"].get("variant", ""))
                      for d in index.get("manifests", []) if d.get("platform")
                      and d["platform"].get("os") not in (None, "unknown")})
    raise NotFound(f"{name} has no image for {format_platform(*wanted)} (it offers {', '.join(offered) or 'none'}): "
                   "choose one with --platform")


def config_platform(config: dict) -> tuple[str, str, str]:
    variant = config.get("variant", "")
    if config.get("architecture") == "arm64" and variant == "v8":
        variant = ""
    return config.get("os", ""), config.get("architecture", ""), variant

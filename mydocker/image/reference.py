"""Image references, normalised as Docker does: `busybox` → docker.io/library/busybox:latest."""

from __future__ import annotations

import re
from mydocker.record import record

from mydocker.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_PATH = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")
_DOMAIN = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$")


@record
class Reference:
    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    @property
    def familiar_repository(self) -> str:
        """The short name Docker shows: busybox, user/app, ghcr.io/org/app."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path.removeprefix("library/")
        return self.repository

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def familiar(self) -> str:
        text = self.familiar_repository + (f":{self.tag}" if self.tag else "")
        return text + (f"@{self.digest}" if self.digest else "")


def parse(text: str, default_tag: str = "latest") -> Reference:
    if not text:
        raise InvalidArgument("invalid reference format: the image name is empty")
    name, digest = text, None
    if "@" in name:
        name, digest = name.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidArgument(f"invalid reference format: {text!r} has a malformed digest")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG.match(tag):
            raise InvalidArgument(f"invalid reference format: {text!r} has an invalid tag {tag!r}")
    domain, _, rest = name.partition("/")
    if rest and ("." in domain or ":" in domain or domain == "localhost" or domain != domain.lower()):
        if not _DOMAIN.match(domain):
            raise InvalidArgument(f"invalid reference format: {text!r} has an invalid registry {domain!r}")
        path = rest
    else:
        domain, path = DEFAULT_DOMAIN, name
        if "/" not in path:
            path = f"library/{path}"
    if path != path.lower():
        raise InvalidArgument(f"invalid reference format: repository name {name!r} must be lowercase")
    if not _PATH.match(path) or len(domain) + len(path) > 254:
        raise InvalidArgument(f"invalid reference format: {text!r} is not a valid image name "
                              "(lowercase letters, digits and separators . _ - /)")
    if tag is None and digest is None:
        tag = default_tag
    return Reference(domain, path, tag, digest)

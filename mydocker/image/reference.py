"""Image references, normalised as Docker does: `busybox` → docker.io/library/busybox:latest."""

from __future__ import annotations

from mydocker.recordclass import record

from mydocker.errors import InvalidArgument
from mydocker.lazy import lazy_module

re = lazy_module("re")

DEFAULT_DOMAIN = "docker.io"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_GRAMMAR = {  # Docker's reference grammar
    "path": rf"^{_COMPONENT}(?:/{_COMPONENT})*$",
    "tag": r"^[\w][\w.-]{0,127}$",
    "digest": r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$",
    "domain": (r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9-]+)*(?::[0-9]+)?$"
               r"|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$"),
}
_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_HEX = frozenset("0123456789abcdefABCDEF")


def _plain(word: str) -> bool:
    return word.isascii() and word.isalnum() and word == word.lower()


def _matches(kind: str, value: str) -> bool:
    """`value` fits the grammar's `kind`. Names like busybox:1.36 or sha256:<hex> are decided
    without `re` (its import is on every `run`: docs/startup.md); anything else by the grammar."""
    if kind == "path" and all(_plain(part) for part in value.split("/")):
        return True
    if kind == "tag" and 0 < len(value) <= 128 and value[0] != "." and value[0] != "-" and _TAG_CHARS.issuperset(value):
        return True
    if kind == "digest":
        algorithm, _, hexa = value.partition(":")
        if _plain(algorithm) and len(hexa) >= 32 and _HEX.issuperset(hexa):
            return True
    return re.match(_GRAMMAR[kind], value) is not None


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
        if not _matches("digest", digest):
            raise InvalidArgument(f"invalid reference format: {text!r} has a malformed digest")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _matches("tag", tag):
            raise InvalidArgument(f"invalid reference format: {text!r} has an invalid tag {tag!r}")
    domain, _, rest = name.partition("/")
    if rest and ("." in domain or ":" in domain or domain == "localhost" or domain != domain.lower()):
        if not _matches("domain", domain):
            raise InvalidArgument(f"invalid reference format: {text!r} has an invalid registry {domain!r}")
        path = rest
    else:
        domain, path = DEFAULT_DOMAIN, name
        if "/" not in path:
            path = f"library/{path}"
    if path != path.lower():
        raise InvalidArgument(f"invalid reference format: repository name {name!r} must be lowercase")
    if not _matches("path", path) or len(domain) + len(path) > 254:
        raise InvalidArgument(f"invalid reference format: {text!r} is not a valid image name "
                              "(lowercase letters, digits and separators . _ - /)")
    if tag is None and digest is None:
        tag = default_tag
    return Reference(domain, path, tag, digest)

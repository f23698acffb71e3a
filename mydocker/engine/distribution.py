"""Pull and push through registries, as the engine does it: names in the records, content in the store.

An image becomes visible only when its manifest, config and every layer are in the store: the
tag (index.json, then the records) is written last.
"""

from __future__ import annotations

import json
import os

from mydocker.errors import InvalidArgument, MyDockerError, NotFound
from mydocker.image import reference
from mydocker.lazy import lazy_module

registry_pull = lazy_module("mydocker.image.registry.pull")
registry_push = lazy_module("mydocker.image.registry.push")
auth = lazy_module("mydocker.image.registry.auth")
registry_client = lazy_module("mydocker.image.registry.client")


class Distribution:
    def __init__(self, images, root: str) -> None:
        self.images = images            # the engine's ImageService: it records and tags images
        self.records = images.records
        self.store = images.store
        self.root = root

    @classmethod
    def of(cls, engine) -> Distribution:
        return cls(engine.images, engine.root)

    def insecure_registries(self) -> list[str]:
        """Docker's daemon.json setting, read from <root>/daemon.json, plus $MYDOCKER_INSECURE_REGISTRIES."""
        names = [n for n in os.environ.get("MYDOCKER_INSECURE_REGISTRIES", "").split(",") if n]
        path = os.path.join(self.root, "daemon.json")
        try:
            with open(path, "rb") as f:
                names += json.load(f).get("insecure-registries", [])
        except FileNotFoundError:
            pass
        except (ValueError, AttributeError) as e:
            raise InvalidArgument(f"{path} is not a valid JSON object ({e}): fix it") from None
        return names

    def pull(self, name: str, platform: str | None = None, tls_verify: bool | None = None, progress=None):
        """Pull `name` and tag it; returns the Pulled record (manifest digest, fetched layer count)."""
        ref = reference.parse(name)
        canonical = str(ref)
        before = self.records.image_for(canonical)
        try:
            pulled = registry_pull.pull(self.store, ref, platform=platform, tls_verify=tls_verify,
                                        insecure_registries=self.insecure_registries(), progress=progress)
        except registry_pull.RefusedImage as e:  # nothing of a refused image stays
            self.images.sweep(e.blobs, e.diff_ids)
            raise
        self.images.register(pulled.manifest_digest, [canonical])   # the tag, written last
        self.images.event("pull", pulled.manifest_digest, name=ref.familiar_repository, actor=ref.familiar)
        if progress:
            fresh = before != pulled.manifest_digest
            progress("", f"Status: {'Downloaded newer image' if fresh else 'Image is up to date'} for "
                         f"{ref.familiar}")
        return pulled

    def push(self, name: str, tls_verify: bool | None = None, progress=None, chunk_size: int | None = None,
             credentials: tuple[str, str] | None = None) -> str:
        ref = reference.parse(name)
        manifest = self.records.image_for(str(ref))
        if manifest is None:
            raise NotFound(f"image {ref.familiar} not found locally: tag an image with that name before pushing it")
        digest = registry_push.push(self.store, ref, manifest, tls_verify=tls_verify,
                                    insecure_registries=self.insecure_registries(), progress=progress,
                                    chunk_size=chunk_size or registry_push.CHUNK_SIZE, credentials=credentials)
        self.images.event("push", manifest, name=ref.familiar_repository, actor=ref.familiar)
        return digest

    def login(self, server: str, user: str, password: str, tls_verify: bool | None = None, store: bool = True) -> str:
        """Check the credentials against the registry, then store them (unless not `store`: the API's
        clients keep their own); return the credentials file."""
        domain = registry_domain(server)
        client = registry_client.RegistryClient(domain, "", tls_verify=tls_verify,
                                                insecure_registries=self.insecure_registries(),
                                                credentials=(user, password))
        client.login()
        return auth.store(domain, user, password) if store else ""

    def logout(self, server: str) -> bool:
        return auth.erase(registry_domain(server))


def registry_domain(server: str | None) -> str:
    """`mydocker login` accepts a host[:port], a URL, or nothing (Docker Hub)."""
    if not server:
        return reference.DEFAULT_DOMAIN
    server = server.removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    if server in ("index.docker.io", "registry-1.docker.io"):
        return reference.DEFAULT_DOMAIN
    return server


def pull_missing(images, name: str, progress=None) -> tuple[str, str]:
    """`run` of an image that is not here: pull it like Docker, with one clear error if that fails.

    Returns (manifest digest, canonical name). `progress(id, status, current, total)`: the caller's."""
    ref = reference.parse(name)
    root = os.path.dirname(images.store.root)
    try:
        pulled = Distribution(images, root).pull(str(ref), progress=progress)
    except MyDockerError as e:
        raise NotFound(f"image {ref.familiar} not found locally, and pulling it failed: {e}") from None
    return pulled.manifest_digest, str(ref)

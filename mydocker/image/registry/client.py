"""The OCI distribution API for one repository: ping, auth, manifests, blobs, uploads."""

from __future__ import annotations

import ipaddress
import json
import urllib.parse

from mydocker.errors import InvalidArgument, MyDockerError, NotFound, RuntimeFailure
from mydocker.image.registry import auth
from mydocker.image.registry.transport import Response, Transport
from mydocker.lazy import lazy_module

hashlib = lazy_module("hashlib")
media = lazy_module("mydocker.image.registry.media")
ssl = lazy_module("ssl")

DOCKER_HUB_API = "registry-1.docker.io"


from mydocker.errors import Unauthorized  # noqa: E402,F401 - raised here; one class for every layer


def api_host(domain: str) -> str:
    return DOCKER_HUB_API if domain in ("docker.io", "index.docker.io") else domain


def is_insecure(domain: str, insecure_registries=()) -> bool:
    """Docker's rule: loopback registries and those the user listed may use plain HTTP."""
    host = domain.rsplit(":", 1)[0] if not domain.endswith("]") else domain
    host = host.strip("[]")
    if host == "localhost" or domain in insecure_registries or host in insecure_registries:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RegistryClient:
    def __init__(self, domain: str, repository: str, *, actions: str = "pull", tls_verify: bool | None = None,
                 insecure_registries=(), credentials: tuple[str, str] | None | bool = True) -> None:
        self.domain = domain
        self.host = api_host(domain)
        self.repository = repository
        self.scopes = [f"repository:{repository}:{actions}"] if repository else []
        self.insecure = tls_verify is False or (tls_verify is None and is_insecure(domain, insecure_registries))
        self.transport = Transport(verify=not self.insecure)
        self._credentials = credentials     # True: look them up in the credentials file
        self.base = ""
        self.authorization: str | None = None
        self._challenge: tuple[str, dict] | None = None

    # auth

    @property
    def credentials(self) -> tuple[str, str] | None:
        if self._credentials is True:
            self._credentials = auth.credentials(self.domain)
        return self._credentials or None

    def add_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            self.scopes.append(scope)
            if self._challenge and self._challenge[0] == "bearer":
                self.authorization = None   # a new token is needed for the wider scope
                self._authenticate()

    def ping(self) -> None:
        """Find the API's scheme and its auth challenge (GET /v2/), as Docker does before anything else."""
        if self.base:
            return
        schemes = ("https", "http") if self.insecure else ("https",)
        for scheme in schemes:
            try:
                resp = self.transport.request("GET", f"{scheme}://{self.host}/v2/")
                break
            except (ssl.SSLError, RuntimeFailure) as e:
                if scheme == schemes[-1]:
                    if isinstance(e, ssl.SSLError):
                        raise RuntimeFailure(f"TLS with registry {self.host} failed ({e.reason or e}): if it is "
                                             "a plain-HTTP registry use --tls-verify=false or list it in "
                                             "insecure-registries") from None
                    raise
        self.base = f"{scheme}://{self.host}"
        resp.read()
        if resp.status == 401:
            self._challenge = auth.parse_challenge(resp.header("WWW-Authenticate"))
            self._authenticate()
        elif resp.status != 200:
            raise RuntimeFailure(f"{self.host} does not answer like a registry (GET /v2/ -> {resp.status})")

    def _authenticate(self) -> None:
        scheme, params = self._challenge
        if scheme == "basic":
            creds = self.credentials
            if not creds:
                raise Unauthorized(f"{self.domain} requires a login: run 'mydocker login {self.domain}'")
            self.authorization = auth.basic_header(*creds)
        elif scheme == "bearer":
            self.authorization = "Bearer " + self._token(params)
        else:
            raise RuntimeFailure(f"{self.domain} asks for {scheme!r} authentication, which mydocker does not speak")

    def _token(self, params: dict) -> str:
        realm = params.get("realm")
        if not realm:
            raise RuntimeFailure(f"{self.domain} sent a Bearer challenge without a realm")
        query = [("service", params["service"])] if params.get("service") else []
        query += [("scope", s) for s in self.scopes]
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        creds = self.credentials
        headers = {"Authorization": auth.basic_header(*creds)} if creds else {}
        resp = self.transport.request("GET", url, headers)
        body = resp.read()
        if resp.status in (401, 403):
            if creds:
                raise Unauthorized(f"{self.domain} refused the login of {creds[0]!r}: check the user name and "
                                   f"password ('mydocker login {self.domain}')")
            raise Unauthorized(f"{self.domain} refused an anonymous token: run 'mydocker login {self.domain}'")
        if resp.status != 200:
            raise RuntimeFailure(f"token server {urllib.parse.urlsplit(realm).netloc} answered {resp.status}")
        try:
            data = json.loads(body)
            return data.get("token") or data["access_token"]
        except (ValueError, KeyError, TypeError):
            raise RuntimeFailure(f"token server {urllib.parse.urlsplit(realm).netloc} sent no token") from None

    def login(self) -> None:
        """Check the credentials: they must get a token (Bearer) or pass /v2/ (Basic)."""
        self.ping()
        if self._challenge is None:
            return  # a registry without authentication accepts anyone, as with Docker
        if self._challenge[0] == "basic":
            resp = self.request("GET", "/v2/")
            resp.read()
            if resp.status != 200:
                raise Unauthorized(f"{self.domain} refused the login of {self.credentials[0]!r}: "
                                   "check the user name and password")

    # requests

    def request(self, method: str, path: str, headers: dict | None = None, body=None, follow: bool = True) -> Response:
        self.ping()
        url = path if "://" in path else self.base + path
        resp = self.transport.request(method, url, headers, body, follow, self._auth_for)
        if resp.status == 401 and (body is None or isinstance(body, (bytes, bytearray))):
            challenge = resp.header("WWW-Authenticate")
            resp.read()
            if challenge:
                self._challenge = auth.parse_challenge(challenge)
                self._authenticate()   # the token expired, or the first one was for fewer actions
                resp = self.transport.request(method, url, headers, body, follow, self._auth_for)
        return resp

    def _auth_for(self, netloc: str) -> str | None:
        return self.authorization

    def fail(self, resp: Response, what: str) -> MyDockerError:
        """The error for an unexpected answer, with the registry's own words."""
        try:
            body = resp.read(1 << 20)
        except MyDockerError:
            body = b""
        detail = ""
        try:
            errors = json.loads(body).get("errors") or []
            detail = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors)
        except (ValueError, AttributeError):
            pass
        detail = detail or f"HTTP {resp.status}"
        name = f"{self.domain}/{self.repository}"
        if resp.status == 401:
            return Unauthorized(f"{what} {name}: {detail}: run 'mydocker login {self.domain}' "
                                "if the repository is private")
        if resp.status == 403:
            return Unauthorized(f"{what} {name} was denied: {detail}: check your access to the repository")
        if resp.status == 404:
            return NotFound(f"{what} {name}: not found ({detail}): check the name, the tag and your access")
        return RuntimeFailure(f"{what} {name} failed: {detail}")

    # manifests

    def get_manifest(self, reference: str, accept: str) -> tuple[bytes, str, str]:
        """(body, Content-Type, Docker-Content-Digest) of a manifest by tag or digest."""
        resp = self.request("GET", f"/v2/{self.repository}/manifests/{reference}", {"Accept": accept})
        if resp.status != 200:
            raise self.fail(resp, f"manifest {reference} of")
        return resp.read(), resp.header("Content-Type"), resp.header("Docker-Content-Digest")

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        resp = self.request("PUT", f"/v2/{self.repository}/manifests/{reference}",
                            {"Content-Type": media_type, "Content-Length": str(len(data))}, data)
        if resp.status not in (200, 201, 202):
            raise self.fail(resp, f"pushing manifest {reference} to")
        resp.read()
        return resp.header("Docker-Content-Digest")

    # blobs

    def has_blob(self, digest: str) -> bool:
        resp = self.request("HEAD", f"/v2/{self.repository}/blobs/{digest}")
        resp.read()
        if resp.status == 200:
            return True
        if resp.status == 404:
            return False
        raise self.fail(resp, f"checking blob {digest} in")

    def get_blob(self, digest: str, offset: int = 0) -> Response:
        """The blob's body (status 206 when the registry honoured the Range from `offset`)."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.request("GET", f"/v2/{self.repository}/blobs/{digest}", headers)
        if resp.status not in (200, 206):
            raise self.fail(resp, f"blob {digest} of")
        return resp

    def start_upload(self, mount: str | None = None, source: str | None = None) -> tuple[bool, str]:
        """(mounted, upload location). With `mount`+`source` asks for a cross-repository mount first."""
        path = f"/v2/{self.repository}/blobs/uploads/"
        if mount and source:
            self.add_scope(f"repository:{source}:pull")
            path += "?" + urllib.parse.urlencode({"mount": mount, "from": source})
        resp = self.request("POST", path, {"Content-Length": "0"}, b"")
        resp.read()
        if resp.status == 201 and mount:
            return True, ""
        if resp.status != 202:
            raise self.fail(resp, "starting an upload to")
        return False, self._location(resp)

    def upload_chunk(self, location: str, data: bytes, start: int) -> str:
        resp = self.request("PATCH", location, {"Content-Type": "application/octet-stream",
                                                "Content-Length": str(len(data)),
                                                "Content-Range": f"{start}-{start + len(data) - 1}"}, data)
        if resp.status != 202:
            raise self.fail(resp, "uploading a chunk to")
        resp.read()
        return self._location(resp)

    def finish_upload(self, location: str, digest: str, body=b"", size: int = 0) -> None:
        sep = "&" if "?" in location else "?"
        url = f"{location}{sep}{urllib.parse.urlencode({'digest': digest})}"
        resp = self.request("PUT", url, {"Content-Type": "application/octet-stream",
                                         "Content-Length": str(size)}, body)
        if resp.status not in (201, 204):
            raise self.fail(resp, f"uploading blob {digest} to")
        resp.read()

    def _location(self, resp: Response) -> str:
        location = resp.header("Location")
        if not location:
            raise RuntimeFailure(f"{self.domain} started an upload without a Location")
        return urllib.parse.urljoin(resp.url, location)


def check_digest(data: bytes, expected: str, what: str) -> str:
    actual = "sha256:" + hashlib.sha256(data).hexdigest()
    if expected and actual != expected:
        raise RuntimeFailure(f"{what} does not match its digest: expected {expected}, got {actual}; "
                             "the registry or the network corrupted it")
    return actual


def reject_schema1(kind: str, name: str) -> None:
    if kind in media.DOCKER_SCHEMA1:
        raise InvalidArgument(f"{name} is a Docker schema 1 image, which is deprecated and not supported: "
                              "push it again with a current client")

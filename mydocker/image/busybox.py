"""The `busybox` image, built offline from the host's busybox-static.

It goes into the store in the same form a pulled image has: one layer tar, an OCI config and a
manifest, so nothing downstream treats it specially.

busybox 1.35's ping only tries raw sockets, which default containers lack (no CAP_NET_RAW), so the
image carries the host's iputils ping as /bin/ping (ping4, ping6): it uses ICMP datagram sockets,
which the container's net.ipv4.ping_group_range opens. It comes with the shared objects the host's
loader maps for it (found by `ldd`: the loader answers, cache, RUNPATH and hwcaps directories
included, rather than a copy of its search rules), at the paths the loader asked for, without the
host file's capabilities (tar entries are made here, so no xattrs). busybox's shell runs its own
applets before it searches PATH (Debian builds it "standalone"), so `sh -c ping` would still get
busybox's ping: the image's copy of busybox has the ping applets' names changed in its applet table.
Without iputils-ping on the host the image keeps busybox's ping, and its history says so.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile

from mydocker.errors import NotFound
from mydocker.image.store import MEDIA_LAYER, ImageStore

HOST_BUSYBOX = ("/bin/busybox", "/usr/bin/busybox")
HOST_PING = ("/bin/ping", "/usr/bin/ping")
PING_NAMES = ("ping", "ping4", "ping6")  # iputils' ping picks the family from ping4/ping6
# glibc before 2.34 loads its "files" and "dns" services from these at run time (static programs
# too: busybox); since 2.34 both are part of libc and the files are empty stubs.
NSS_MODULES = ("libnss_files.so.2", "libnss_dns.so.2")
HOST_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
ENV_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_ETC = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
                  "bin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\n"
                  "www-data:x:33:33:www-data:/var/www:/bin/false\n"
                  "nobody:x:65534:65534:nobody:/home:/bin/false\n",
    "etc/group": "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\ntty:x:5:\nwww-data:x:33:\n"
                 "users:x:100:\nnogroup:x:65534:\n",
    "etc/shadow": "root:*:10933:0:99999:7:::\nnobody:*:10933:0:99999:7:::\n",
    # glibc's default order, said out loud: /etc/hosts before DNS
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n"
                         "protocols: files\nservices: files\n",
}
_DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o555, "root": 0o700,
         "sys": 0o555, "tmp": 0o1777, "usr": 0o755, "usr/bin": 0o755, "usr/sbin": 0o755,
         "var": 0o755, "var/spool": 0o755, "var/www": 0o755}


def find_host_busybox() -> str:
    for path in HOST_BUSYBOX:
        if os.path.isfile(path) and _is_static(path):
            return path
    raise NotFound("image busybox needs the host's static busybox: install it with "
                   "'apt-get install busybox-static'")


def _is_static(path: str) -> bool:
    """A static ELF has no PT_INTERP program header."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return False
        phoff = int.from_bytes(head[32:40], "little")
        phentsize = int.from_bytes(head[54:56], "little")
        phnum = int.from_bytes(head[56:58], "little")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(int.from_bytes(table[i:i + 4], "little") != 3 for i in range(0, len(table), phentsize))


def find_host_ping() -> str | None:
    """The host's iputils ping (Debian: iputils-ping), or None."""
    for path in HOST_PING:
        if os.path.isfile(path) and not _is_static(path):
            try:
                version = subprocess.run([path, "-V"], capture_output=True, text=True, env=HOST_ENV, timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                continue
            if "iputils" in version.stdout:
                return path
    return None


def parse_ldd(text: str, program: str) -> list[str]:
    """The paths in `ldd` output: `name => /path (0x…)` and the loader's `/path (0x…)`; the vDSO
    (no path) is skipped, a library the loader cannot find is an error."""
    paths = []
    for line in text.splitlines():
        line = line.strip()
        if "=> not found" in line:
            raise NotFound(f"{program} needs {line.split()[0]}, which the host's loader cannot find")
        target = line.split("=>", 1)[-1].strip().split(" (", 1)[0]
        if target.startswith("/"):
            paths.append(os.path.normpath(target))
    return paths


def shared_objects(program: str) -> list[str]:
    """The loader and libraries the host's loader maps for `program` (none for a static one)."""
    proc = subprocess.run(["ldd", program], capture_output=True, text=True, env=HOST_ENV)
    if proc.returncode != 0:  # "not a dynamic executable"
        return []
    return parse_ldd(proc.stdout, program)


def nss_modules(libc_version: str | None) -> tuple[str, ...]:
    """The NSS modules a glibc of `libc_version` ("glibc 2.36") loads at run time for nsswitch.conf's
    files and dns: none from 2.34 on."""
    if not libc_version or not libc_version.startswith("glibc "):
        return ()
    major, minor = (int(part) for part in libc_version.split()[1].split(".")[:2])
    return () if (major, minor) >= (2, 34) else NSS_MODULES


def find_library(soname: str) -> str | None:
    """Where the host's loader cache says `soname` is."""
    proc = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, env=HOST_ENV)
    for line in proc.stdout.splitlines():
        if line.strip().startswith(soname + " ") and "=>" in line:
            return line.split("=>", 1)[1].strip()
    return None


def host_libraries(ping: str | None) -> list[str]:
    """Sorted paths (as the loader names them) of what ping and glibc's NSS need at run time."""
    try:
        libc_version = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):  # not glibc
        libc_version = None
    wanted = [ping] if ping else []
    wanted += [path for soname in nss_modules(libc_version) if (path := find_library(soname))]
    found = set()
    for program in wanted:
        found.update(shared_objects(program))
        if program != ping:
            found.add(os.path.normpath(program))
    return sorted(found)


def retire_applets(binary: bytes, applets: list[str], retired: set[str]) -> bytes | None:
    """`binary` with the `retired` applets renamed in busybox's applet name table ("ping" becomes
    "pin_"), so neither its shell nor `busybox NAME` finds them; None (leave busybox as it is) unless
    the table, as `busybox --list` prints it, is there exactly once and keeps its order (busybox
    narrows its lookups by the table's order)."""
    table = b"\0" + b"\0".join(name.encode() for name in applets) + b"\0"
    start = binary.find(table)
    renamed = [name[:-1] + "_" if name in retired else name for name in applets]
    if start < 0 or binary.find(table, start + 1) >= 0 or renamed != sorted(set(renamed)):
        return None
    patched = b"\0" + b"\0".join(name.encode() for name in renamed) + b"\0"
    return binary[:start] + patched + binary[start + len(table):]


class _LayerWriter:
    """Tar entries owned by root, all with one mtime, so one set of host files gives one digest."""

    def __init__(self, tar: tarfile.TarFile, mtime: int):
        self.tar, self.mtime = tar, mtime

    def add(self, name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o755, data: bytes | None = None,
            source: str | None = None, linkname: str = "") -> None:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime, info.linkname = kind, mode, self.mtime, linkname
        if source is not None:
            with open(source, "rb") as f:
                info.size = os.fstat(f.fileno()).st_size
                self.tar.addfile(info, f)
        elif data is not None:
            info.size = len(data)
            self.tar.addfile(info, io.BytesIO(data))
        else:
            self.tar.addfile(info)


def build_layer(busybox: str, out, ping: str | None = None) -> None:
    """Write the busybox root filesystem as a tar: busybox and its applet links, with `ping` (the
    host's iputils ping) and the libraries it and glibc's NSS need, if given."""
    listed = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    retired = set(PING_NAMES) & set(listed) if ping else set()
    applets = sorted(set(listed) - {"busybox"} - retired)  # busybox lists itself
    with open(busybox, "rb") as f:
        binary = f.read()
    if retired:
        binary = retire_applets(binary, listed, retired) or binary
    libraries = host_libraries(ping)
    dirs = dict(_DIRS)
    for path in libraries:
        parent = os.path.dirname(path).lstrip("/")
        while parent and parent not in dirs:
            dirs[parent] = 0o755
            parent = os.path.dirname(parent)
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        layer = _LayerWriter(tar, int(os.stat(busybox).st_mtime))
        for name in sorted(dirs):
            layer.add(name, tarfile.DIRTYPE, dirs[name])
        layer.add("bin/busybox", data=binary)
        for applet in applets:
            layer.add(f"bin/{applet}", tarfile.LNKTYPE, linkname="bin/busybox")
        if ping:
            layer.add("bin/ping", source=ping)  # 0755: no setuid, no file capabilities
            for name in PING_NAMES[1:]:
                layer.add(f"bin/{name}", tarfile.SYMTYPE, 0o777, linkname="ping")
        for path in libraries:
            host = os.path.realpath(path)  # the file itself at the path the loader asks for
            layer.add(path.lstrip("/"), mode=os.stat(host).st_mode & 0o755, source=host)
        for name, text in _ETC.items():
            layer.add(name, mode=0o600 if name.endswith("shadow") else 0o644, data=text.encode())


def build_image(store: ImageStore) -> tuple[str, int]:
    """Put the busybox image into the store; return (manifest digest, manifest size)."""
    busybox, ping = find_host_busybox(), find_host_ping()
    store.ensure()
    fd, tmp = tempfile.mkstemp(prefix=".busybox-", dir=store.blobs)
    try:
        with os.fdopen(fd, "wb") as out:
            build_layer(busybox, out, ping)
        layer_digest, layer_size = store.put_file(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    version = subprocess.run([busybox], capture_output=True, text=True).stdout.split("\n", 1)[0]
    config = {
        "architecture": "amd64" if os.uname().machine == "x86_64" else os.uname().machine,
        "os": "linux",
        "config": {"Env": [ENV_PATH], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": f"mydocker: {version or 'busybox'} from the host's {busybox}; " + (
            f"ping: iputils from the host's {ping}" if ping else
            "ping: busybox's, which needs CAP_NET_RAW (install iputils-ping for one that does not)")}],
    }
    return store.put_image(config, [{"mediaType": MEDIA_LAYER, "digest": layer_digest, "size": layer_size}])

"""`features`: what this runtime implements, in the runtime-spec features.md format (as `runc features`)."""

from __future__ import annotations

import os

from mydocker.runtime.caps import NUMBERS, last_cap
from mydocker.runtime.hooks import KINDS
from mydocker.runtime.mountopts import KNOWN


def features() -> dict:
    last = last_cap()
    try:
        from mydocker.runtime import seccomp
        has_seccomp = hasattr(seccomp, "install")
    except ImportError:
        has_seccomp = False
    return {
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.0.2",
        "hooks": list(KINDS),
        "mountOptions": sorted(KNOWN),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"],
            "capabilities": [name for name, number in NUMBERS.items() if number <= last],
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False},  # paths only, no D-Bus
            "seccomp": {"enabled": has_seccomp,
                        "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"]
                        if has_seccomp else []},
            "apparmor": {"enabled": os.path.isdir("/sys/kernel/security/apparmor")},
            "selinux": {"enabled": os.path.isdir("/sys/fs/selinux")},
        },
        "annotations": {"org.opencontainers.runtime-spec.features.mydocker-runtime": "1"},
    }

"""linux.seccomp (config-linux.md "Seccomp") through `mydocker-runtime`: the filter is installed in
the container's process, rules decide by syscall and arguments, errors name the field."""

from __future__ import annotations


def seccomp(c, syscalls, default="SCMP_ACT_ALLOW"):
    c["linux"]["seccomp"] = {"defaultAction": default, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                             "syscalls": syscalls}


def test_filter_is_installed_and_refuses_what_it_names(oci, bundle):
    def edit(c):
        seccomp(c, [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            # one syscall in several rules (podman's profile does this): the first unconditional stays
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["rmdir"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
             "args": [{"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]},  # hostname of length 3 only
        ])
    script = ("grep ^Seccomp: /proc/self/status; mkdir /tmp/d 2>&1; mkdir -p /tmp; rmdir /nonexistent 2>&1; "
              "hostname abc 2>&1; hostname abcd && hostname")
    code, out = oci.output(bundle(["sh", "-c", script], edit), "sc")
    lines = out.splitlines()
    assert lines[0].split() == ["Seccomp:", "2"], out
    assert "Operation not permitted" in lines[1], out
    assert "Permission denied" in out, out  # rmdir: EACCES from the first rule, not ENOENT
    assert "Invalid argument" in out and lines[-1] == "abcd", out


def test_kill_process_action(oci, bundle):
    def edit(c):
        seccomp(c, [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}])
    code, _out = oci.output(bundle(["sh", "-c", "echo $PPID; exit 0"], edit), "sckill")
    # busybox sh asks getppid() for $PPID: SIGSYS kills it (exit status 128+31)
    assert code == 159, code


def test_bad_profile_is_refused_naming_the_field(oci, bundle):
    def edit(c):
        seccomp(c, [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                     "args": [{"index": 9, "value": 0, "op": "SCMP_CMP_EQ"}]}], default="SCMP_ACT_ERRNO")
    err = oci("create", "--bundle", bundle(["true"], edit), "scbad", rc=1).err.strip()
    assert "linux.seccomp.syscalls[0].args[0].index" in err and "\n" not in err, err
    oci("state", "scbad", rc=1)

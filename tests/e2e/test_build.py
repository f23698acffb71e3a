"""`mydocker build` on the busybox image: steps, cache, failures, and what the built image's containers see."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest


def write(directory, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return str(directory)


def containers(mydocker) -> list[str]:
    return [line for line in mydocker("ps", "-a", "-q").out.split() if line]


APP = """\
FROM busybox
ARG GREETING=hello
ENV NAME=world \\
    OTHER="two words"
WORKDIR /app
COPY --chown=www-data:www-data *.txt conf/ ./
ADD files.tar /unpacked/
RUN echo "$GREETING $NAME" > /app/greeting \\
    && mkdir -p /data
USER www-data
EXPOSE 8080
LABEL org.example.kind=test
CMD ["cat", "/app/greeting"]
"""


@pytest.fixture
def context(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    write(ctx, {"Dockerfile": APP, "a.txt": "A\n", "b.txt": "B\n", "conf/app.conf": "x=1\n",
                "secret.key": "no\n", "notes.txt": "ignored\n", ".dockerignore": "*.key\nnotes.txt\n"})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"from the tar\n"
        info = tarfile.TarInfo("inner/file")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (ctx / "files.tar").write_bytes(buf.getvalue())
    return str(ctx)


def test_multi_step_build_and_the_image_runs(mydocker, context):
    out = mydocker("build", "-t", "app:1", context, timeout=120).out
    assert "Step 11/11 : CMD" in out and "Successfully tagged app:1" in out
    assert "Using cache" not in out
    assert mydocker("run", "--rm", "app:1").out == "hello world\n"
    listing = mydocker("run", "--rm", "app:1", "ls", "-ln", "/app").out
    assert "a.txt" in listing and "b.txt" in listing and "app.conf" in listing
    assert "notes.txt" not in listing and "secret.key" not in listing  # .dockerignore
    assert all(" 33 " in line for line in listing.splitlines() if line.endswith(".txt"))  # --chown
    assert mydocker("run", "--rm", "app:1", "cat", "/unpacked/inner/file").out == "from the tar\n"  # ADD extracts
    env = mydocker("run", "--rm", "app:1", "env").out
    assert "NAME=world" in env and "OTHER=two words" in env and "GREETING" not in env  # ARG is not kept
    assert mydocker("run", "--rm", "app:1", "id", "-u").out == "33\n"  # USER
    assert mydocker("run", "--rm", "app:1", "pwd").out == "/app\n"  # WORKDIR
    config = json.loads(mydocker("image", "inspect", "app:1").out)[0]["Config"]
    assert "8080/tcp" in config["ExposedPorts"] and config["Labels"] == {"org.example.kind": "test"}
    history = mydocker("history", "--no-trunc", "app:1").out
    assert "#(nop)  USER www-data" in history
    assert containers(mydocker) == []


def test_second_build_uses_the_cache_and_no_cache_does_not(mydocker, context):
    first = mydocker("build", "-t", "app:1", context, timeout=120).out
    second = mydocker("build", "-t", "app:2", context, timeout=120).out
    assert second.count("---> Using cache") == 10  # every step after FROM
    assert "Running in" not in second
    assert first.strip().splitlines()[-2] == second.strip().splitlines()[-2]  # "Successfully built <same id>"
    # a changed file breaks the cache from its COPY on
    write(context, {"b.txt": "B2\n"})
    third = mydocker("build", "-t", "app:3", context, timeout=120).out
    assert third.count("---> Using cache") == 3 and "Running in" in third
    # a changed ignored file does not
    write(context, {"notes.txt": "still ignored\n"})
    assert mydocker("build", "-t", "app:3", context, timeout=120).out.count("---> Using cache") == 10
    # a build arg changes RUN
    out = mydocker("build", "--build-arg", "GREETING=bye", "-t", "app:4", context, timeout=120).out
    assert "Running in" in out
    assert mydocker("run", "--rm", "app:4").out == "bye world\n"
    fresh = mydocker("build", "--no-cache", "-t", "app:5", context, timeout=120).out
    assert "Using cache" not in fresh and "Running in" in fresh
    assert mydocker("run", "--rm", "app:5").out == "hello world\n"


def test_failing_run_reports_line_command_and_output_and_leaves_no_container(mydocker, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\n# a comment\nRUN echo first\nRUN echo 'this went wrong' \\\n"
                                         "    && exit 3\nCMD true\n"})
    result = mydocker("build", "-t", "bad", ctx, rc=1, timeout=120)
    assert "this went wrong" in result.out
    assert "Dockerfile line 4" in result.err and "exit 3" in result.err and "non-zero code: 3" in result.err
    assert "Traceback" not in result.err
    assert containers(mydocker) == []
    assert "bad" not in mydocker("images").out
    scratch = os.path.join(mydocker.root, "build")
    assert not os.path.exists(scratch) or os.listdir(scratch) == []


def test_parse_error_names_the_line(mydocker, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY onlyone\n"})
    err = mydocker("build", ctx, rc=1).err
    assert "Dockerfile line 2" in err and "COPY" in err


def test_missing_copy_source_names_the_line(mydocker, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\n\nCOPY nothere /x\n"})
    err = mydocker("build", ctx, rc=1).err
    assert "Dockerfile line 3" in err and "nothere" in err


def test_entrypoint_cmd_exec_and_shell_forms(mydocker, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": 'FROM busybox\nENTRYPOINT ["echo", "ep"]\nCMD ["default"]\n',
                           "Dockerfile.shell": "FROM busybox\nENV W=x\nENTRYPOINT echo shell $W\n"})
    mydocker("build", "-t", "ep", ctx, timeout=120)
    assert mydocker("run", "--rm", "ep").out == "ep default\n"
    assert mydocker("run", "--rm", "ep", "given").out == "ep given\n"
    mydocker("build", "-f", os.path.join(ctx, "Dockerfile.shell"), "-t", "ep2", ctx, timeout=120)
    assert mydocker("run", "--rm", "ep2").out == "shell x\n"


def test_arg_before_from_multi_stage_and_scratch(mydocker, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "ARG BASE=busybox\nFROM ${BASE} AS builder\n"
                                         "RUN mkdir /out && echo built > /out/result\n"
                                         "FROM scratch\nCOPY --from=builder /out/result /result\n"
                                         "COPY --from=builder /bin/busybox /bin/busybox\n"
                                         'CMD ["/bin/busybox", "cat", "/result"]\n'})
    mydocker("build", "-t", "staged", ctx, timeout=120)
    assert mydocker("run", "--rm", "staged").out == "built\n"
    layers = json.loads(mydocker("image", "inspect", "staged").out)[0]["RootFS"]["Layers"]
    assert len(layers) == 2  # only the final stage's two COPYs


def test_run_exec_form_workdir_and_env_expansion(mydocker, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nENV DIR=/srv/site\nWORKDIR ${DIR}\nWORKDIR sub\n"
                                         'RUN ["sh", "-c", "pwd > /where"]\n'
                                         "COPY x.txt .\nCOPY x.txt ${DIR:-/nope}/copy.txt\n"
                                         "CMD cat /where ./x.txt ../copy.txt\n",
                           "x.txt": "X\n"})
    mydocker("build", "-t", "wd", ctx, timeout=120)
    assert mydocker("run", "--rm", "wd").out == "/srv/site/sub\nX\nX\n"


def test_copy_modes_names_trees_links_and_add_of_a_plain_file(mydocker, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY --chmod=0600 a.txt /etc/renamed\n"
                                         "COPY tree /tree/\nADD plain.gz /plain/\n"
                                         "COPY link /tree/link\n",
                           "a.txt": "A\n", "tree/top": "T\n", "tree/sub/kept": "K\n", "tree/sub/x.key": "no\n",
                           "plain.gz": "not a tar\n", ".dockerignore": "**/*.key\n"})
    os.symlink("top", os.path.join(ctx, "link"))
    mydocker("build", "-t", "copies", ctx, timeout=120)
    out = mydocker("run", "--rm", "copies", "stat", "-c", "%a %u %n", "/etc/renamed", "/tree/top", "/tree/sub/kept").out
    assert out == "600 0 /etc/renamed\n644 0 /tree/top\n644 0 /tree/sub/kept\n"  # --chmod; root owns copies
    assert mydocker("run", "--rm", "copies", "ls", "/tree/sub").out == "kept\n"  # ** in .dockerignore
    assert mydocker("run", "--rm", "copies", "readlink", "/tree/link").out == "top\n"  # a link stays a link
    assert mydocker("run", "--rm", "copies", "cat", "/plain/plain.gz").out == "not a tar\n"  # not a tar: copied


def test_intermediate_images_are_listed_only_with_a(mydocker, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n")
    mydocker("build", "-t", "steps:1", str(ctx))
    plain = mydocker("images").out.splitlines()[1:]
    assert [line.split()[:2] for line in plain if line.split()[0] == "<none>"] == []
    assert any(line.split()[0] == "<none>" for line in mydocker("images", "-a").out.splitlines()[1:])

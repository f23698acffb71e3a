from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as s

from mydocker.errors import InvalidArgument
from mydocker.image.reference import parse


@pytest.mark.parametrize("text,canonical,familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("user/app", "docker.io/user/app:latest", "user/app:latest"),
    ("docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("localhost:5000/my/img:v1", "localhost:5000/my/img:v1", "localhost:5000/my/img:v1"),
    ("ghcr.io/org/app:1.2@sha256:" + "a" * 64, "ghcr.io/org/app:1.2@sha256:" + "a" * 64,
     "ghcr.io/org/app:1.2@sha256:" + "a" * 64),
    ("quay.io/x/y", "quay.io/x/y:latest", "quay.io/x/y:latest"),
])
def test_normalisation(text, canonical, familiar):
    ref = parse(text)
    assert str(ref) == canonical
    assert ref.familiar == familiar


@pytest.mark.parametrize("text", ["", "BusyBox", "busybox:", "busy box", "-busybox", "busybox@sha256:xyz",
                                  "a/b/", "busybox:tag with space", "Registry.IO/x/Y"])
def test_rejects(text):
    with pytest.raises(InvalidArgument) as err:
        parse(text)
    assert "invalid reference format" in str(err.value)


@given(s.text(max_size=80))
def test_any_text_parses_or_is_rejected_cleanly(text):
    try:
        ref = parse(text)
    except InvalidArgument:
        return
    assert parse(str(ref)) == ref  # canonical form is a fixed point


@given(kind=s.sampled_from(["path", "tag", "digest", "domain"]),
       value=s.text(alphabet="abcAZ09_.-:/@\n é", max_size=40) | s.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}"))
def test_the_fast_checks_agree_with_the_grammar(kind, value):
    import re
    from mydocker.image.reference import _GRAMMAR, _matches
    assert _matches(kind, value) == (re.match(_GRAMMAR[kind], value) is not None)

"""Fuzz the Dockerfile parser and expander: any input either parses or raises DockerfileError."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from mydocker.image.dockerfile import DockerfileError, expand, parse

_PIECES = st.sampled_from(["FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "LABEL", "CMD", "ENTRYPOINT", "USER",
                           "WORKDIR", "EXPOSE", "VOLUME", "SHELL", "STOPSIGNAL", "AS", " ", "\t", "\n", "\\\n",
                           "`", "#", "# escape=`\n", "=", '"', "'", "$", "${", "}", ":-", ":+", "[", "]", ",",
                           '["a", "b"]', "--chown=", "--from=", "--", "x", "*", "/", "\r\n"])
_TEXT = st.one_of(st.text(max_size=200), st.lists(_PIECES, max_size=40).map("".join))


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_parse_never_crashes(text):
    try:
        d = parse(text)
        d.stages()
    except DockerfileError as e:
        assert str(e).startswith("Dockerfile line ")


@settings(max_examples=400, deadline=None)
@given(_TEXT, st.sampled_from(["\\", "`"]))
def test_expand_never_crashes(word, escape):
    try:
        assert isinstance(expand(word, {"A": "1", "E": ""}, escape), str)
    except DockerfileError as e:
        assert str(e).startswith("Dockerfile line ")

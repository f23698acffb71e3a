"""The Dockerfile parser and Docker's variable expansion, on tricky inputs."""

from __future__ import annotations

import pytest

from mydocker.image.dockerfile import DockerfileError, expand, parse, split_words


def cmds(text: str) -> list[tuple[str, list[str]]]:
    return [(i.cmd, i.args) for i in parse(text).instructions]


def test_continuations_join_lines_and_skip_comments_inside():
    d = parse("FROM busybox\nRUN echo a \\\n    # a comment\n  b \\\n\n  c\nCMD x\n")
    run = d.instructions[1]
    assert run.args == ["echo a   b   c"]
    assert run.line == 2
    assert d.instructions[2].line == 7


def test_backslash_followed_by_spaces_still_continues():
    assert cmds("FROM x\nRUN a \\   \n b")[1] == ("RUN", ["a  b"])


def test_escape_directive_backtick():
    d = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo hi\n")
    assert d.escape == "`"
    assert d.instructions[1].args == ["dir c:\\   && echo hi"]


def test_directive_after_a_comment_is_just_a_comment():
    d = parse("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n")
    assert d.escape == "\\"
    assert d.instructions[1].args == ["a  b"]


def test_bad_escape_directive():
    with pytest.raises(DockerfileError, match="line 1"):
        parse("# escape=x\nFROM a\n")


def test_json_exec_form_and_fallback_to_shell_form():
    d = parse('FROM x\nRUN ["echo", "a b"]\nCMD [not json]\nENTRYPOINT ["sh", 1]\n')
    run, cmd, ep = d.instructions[1:]
    assert (run.json, run.args) == (True, ["echo", "a b"])
    assert (cmd.json, cmd.args) == (False, ["[not json]"])
    assert (ep.json, ep.args) == (False, ['["sh", 1]'])


def test_arg_before_from_and_stage_names():
    d = parse("ARG V=1\nARG OTHER\nFROM busybox:${V} AS Build\nRUN true\nFROM scratch\nCOPY --from=build /a /b\n")
    meta, stages = d.stages()
    assert [p for i in meta for p in i.pairs] == [("V", "1"), ("OTHER", None)]
    assert stages[0][0].flags["as"] == "build"
    assert stages[1][1].flags == {"from": "build"}


def test_instruction_before_from_is_an_error_with_its_line():
    with pytest.raises(DockerfileError, match="line 2: RUN before the first FROM"):
        parse("ARG A\nRUN x\nFROM y\n").stages()


def test_env_forms():
    d = parse('FROM x\nENV A=1 B="two words" C=a\\ b\nENV LEGACY some value\n')
    assert d.instructions[1].pairs == [("A", "1"), ("B", '"two words"'), ("C", "a\\ b")]
    assert d.instructions[2].pairs == [("LEGACY", "some value")]


def test_env_without_value_is_an_error():
    with pytest.raises(DockerfileError, match="line 2"):
        parse("FROM x\nENV ONLY\n")


def test_copy_flags_and_glob_sources():
    ins = parse("FROM x\nCOPY --chown=app:app --chmod=644 *.py conf/ /app/\n").instructions[1]
    assert ins.flags == {"chown": "app:app", "chmod": "644"}
    assert ins.args == ["*.py", "conf/", "/app/"]


def test_copy_json_form_with_spaces():
    ins = parse('FROM x\nCOPY ["a file", "/dst dir/"]\n').instructions[1]
    assert ins.json and ins.args == ["a file", "/dst dir/"]


@pytest.mark.parametrize("text,message", [
    ("FROM x\nCOPY onlyone\n", "line 2: COPY needs at least one source"),
    ("FROM x\nCOPY --own=1 a b\n", "unknown flag --own"),
    ("FROM x\nFOO bar\n", "line 2: unknown instruction 'FOO'"),
    ("FROM x y z w\n", "line 1: FROM takes"),
    ("", "empty"),
    ("# just a comment\n", "empty"),
    ("FROM x\nRUN\n", "RUN needs a command"),
    ("FROM x\nARG 1bad\n", "not a valid name"),
    ("FROM x\nLABEL novalue\n", "line 2"),
    ("FROM x\nONBUILD RUN true\n", "not supported"),
    ("FROM x\nHEALTHCHECK CMD\n", "HEALTHCHECK takes NONE"),
    ("FROM x\nHEALTHCHECK --retries=1 NONE\n", "HEALTHCHECK takes NONE"),
])
def test_errors_name_the_line(text, message):
    with pytest.raises(DockerfileError, match=message):
        parse(text)


def test_instruction_keywords_are_case_insensitive_and_crlf_is_fine():
    assert cmds("from x\r\nrun echo hi\r\n") == [("FROM", ["x"]), ("RUN", ["echo hi"])]


def test_split_words_keeps_quotes():
    assert split_words('a="b c" d=\'e f\' g\\ h') == ['a="b c"', "d='e f'", "g\\ h"]


ENV = {"A": "a", "EMPTY": "", "SP": "x y"}


@pytest.mark.parametrize("word,out", [
    ("$A", "a"), ("${A}", "a"), ("${A}b", "ab"), ("$Ab", ""), ("$UNSET", ""),
    ("${UNSET:-def}", "def"), ("${EMPTY:-def}", "def"), ("${EMPTY-def}", ""), ("${UNSET-def}", "def"),
    ("${A:-def}", "a"), ("${A:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"),
    ("${UNSET:-$A}", "a"), ("${UNSET:-${A}x}", "ax"),
    ("'$A'", "$A"), ('"$A"', "a"), ('"\\$A"', "$A"), ("\\$A", "$A"), ("a\\ b", "a b"),
    ('"a\\b"', "a\\b"), ("$", "$"), ("a$", "a$"), ("$1x", "x"), ("${SP}", "x y"), ('"it\'s"', "it's"),
])
def test_expand(word, out):
    assert expand(word, ENV) == out


def test_expand_with_backtick_escape():
    assert expand("`$A", ENV, escape="`") == "$A"
    assert expand("c:\\dir", ENV, escape="`") == "c:\\dir"


@pytest.mark.parametrize("word", ["${", "${}", "${A", "'open", '"open', "${A%b}", "${UNSET:?must be set}"])
def test_bad_expansions_raise_a_dockerfile_error(word):
    with pytest.raises(DockerfileError):
        expand(word, ENV, line=3)


def test_healthcheck_forms():
    from mydocker.image.dockerfile import parse
    ins = parse('FROM x\nHEALTHCHECK --interval=5s CMD ["curl", "-f", "http://x/"]\n').instructions[1]
    assert ins.args == ["CMD", "curl", "-f", "http://x/"] and ins.flags == {"interval": "5s"}
    assert parse("FROM x\nHEALTHCHECK CMD wget -q x || exit 1\n").instructions[1].args == \
        ["CMD-SHELL", "wget -q x || exit 1"]
    assert parse("FROM x\nHEALTHCHECK none\n").instructions[1].args == ["NONE"]

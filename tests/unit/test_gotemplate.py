"""The Go-template subset behind --format and inspect -f, and Docker's table layout."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from mydocker.cli.table import render as render_format, tabwrite
from mydocker.cli.gotemplate import TemplateError, render

DATA = {"ID": "abc", "Names": "web", "State": {"Status": "running", "Running": True, "Pid": 3, "Error": ""},
        "Mounts": [{"Destination": "/a"}, {"Destination": "/b"}], "Labels": {"k": "v"}, "Empty": [],
        "Config": {"Env": ["A=1", "B=2"], "Cmd": None}, "Count": 2}


@pytest.mark.parametrize("template,expected", [
    ("{{.ID}}", "abc"),
    ("{{.State.Status}}/{{.State.Pid}}", "running/3"),
    ("{{json .State}}", '{"Status":"running","Running":true,"Pid":3,"Error":""}'),
    ("{{json .Config.Env}}", '["A=1","B=2"]'),
    ("{{.Names | upper}}", "WEB"),
    ("{{upper .Names}}", "WEB"),
    ("{{index .Labels \"k\"}}", "v"),
    ("{{index .Mounts 1}}", "map[Destination:/b]"),
    ("{{(index .Mounts 0).Destination}}", "/a"),
    ("{{join .Config.Env \",\"}}", "A=1,B=2"),
    ("{{len .Mounts}}", "2"),
    ("{{printf \"%s:%d\" .Names .Count}}", "web:2"),
    ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
    ("{{if .State.Error}}bad{{else if eq .State.Status \"running\"}}ok{{else}}?{{end}}", "ok"),
    ("{{range .Mounts}}{{.Destination}};{{end}}", "/a;/b;"),
    ("{{range .Empty}}x{{else}}none{{end}}", "none"),
    ("{{with .State}}{{.Pid}}{{end}}", "3"),
    ("{{.Config.Cmd}}", "<no value>"),
    ("{{.Labels}} {{.State.Running}} {{.Config.Env}}", "map[k:v] true [A=1 B=2]"),
    ("a  {{- .ID -}}  b", "aabcb"),
    ("{{/* a comment */}}x", "x"),
    ("{{range $.Mounts}}{{$.ID}}{{end}}", "abcabc"),
    ("{{not .State.Running}} {{and .ID .Names}} {{or .Empty .Names}}", "false web web"),
    ("{{lower `RAW`}}", "raw"),
])
def test_render(template, expected):
    assert render(template, DATA) == expected


@pytest.mark.parametrize("template,words", [
    ("{{.Nope}}", ["Nope"]),
    ("{{if .ID}}x", ["without {{end}}"]),
    ("{{end}}", ["unexpected"]),
    ("{{nosuchfunc .ID}}", ["nosuchfunc"]),
    ("{{.ID", ["unclosed"]),
    ("{{.ID.Deeper}}", ["Deeper"]),
])
def test_errors_name_the_problem(template, words):
    with pytest.raises(TemplateError) as info:
        render(template, DATA)
    assert all(w in str(info.value) for w in words)
    assert "\n" not in str(info.value)


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=40))
def test_text_without_actions_is_kept(text):
    assert render(text, DATA) == text


def test_tabwrite_matches_docker_padding():
    out = tabwrite(["CONTAINER ID\tIMAGE\tNAMES", "abc\tbusybox\tweb"])
    assert out == "CONTAINER ID   IMAGE     NAMES\nabc            busybox   web\n"


def test_format_table_json_and_template():
    items = [{"ID": "a", "Names": "x"}, {"ID": "b", "Names": "y"}]
    headers = {"ID": "CONTAINER ID", "Names": "NAMES"}
    assert render_format("table {{.ID}}\t{{.Names}}", items, headers) == \
        "CONTAINER ID   NAMES\na              x\nb              y\n"
    assert render_format("{{.Names}}", items, headers) == "x\ny\n"
    assert render_format("json", items, headers) == '{"ID":"a","Names":"x"}\n{"ID":"b","Names":"y"}\n'

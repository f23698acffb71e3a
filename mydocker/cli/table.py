"""Docker's table output: Go's tabwriter (min width 10, padding 3) and `--format` (table / json / template)."""

from __future__ import annotations

import json
from mydocker.lazy import lazy_module

gotemplate = lazy_module("mydocker.cli.gotemplate")


def tabwrite(lines: list[str], min_width: int = 10) -> str:
    """Align tab-separated cells as tabwriter.NewWriter(out, min_width, 1, 3, ' ', 0) does; the last cell is
    not padded."""
    rows = [line.split("\t") for line in lines]
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell) + 3, min_width)
    return "".join("".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + row[-1] + "\n"
                   for row in rows)


def render(fmt: str, items: list[dict], headers: dict[str, str]) -> str:
    """`--format`: "table TEMPLATE" (with a header row), "json" (one object per line), or a template per item."""
    if fmt == "json":
        return "".join(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n" for item in items)
    if fmt.startswith("table"):
        template = gotemplate.Template(fmt[5:].strip().replace("\\t", "\t") or "{{json .}}")
        lines = [template.execute(headers)] + [template.execute(item) for item in items]
        return tabwrite(lines)
    template = gotemplate.Template(fmt.replace("\\t", "\t").replace("\\n", "\n"))
    return "".join(template.execute(item) + "\n" for item in items)

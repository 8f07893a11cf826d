"""report.html's structure: cards, the charts once, then the tables; units, order, alignment, the slowest units of work."""

from __future__ import annotations

import asyncio
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from genmon import GenerationMonitor
from genmon.cli.run_files import load_runs
from genmon.cli.run_report import build_report
from genmon.plots.report_html import report_input, write_report
from genmon.simulated import PRICES, run_simulation


class Page(HTMLParser):
    """Headings, images, table cells (with their class), and the <details> tree with summaries."""

    def __init__(self) -> None:
        super().__init__()
        self.order: list[str] = []  # "cards", "h2:<text>", "img:<alt>", "table" in document order
        self.cells: list[list[tuple[str, str, str]]] = []  # per table: (tag, class, text)
        self.details: list[dict[str, Any]] = []  # {"depth", "open", "summary"}
        self.h1 = ""
        self._text: list[str] | None = None
        self._capture = ""
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if attr.get("class") == "cards":
            self.order.append("cards")
        if tag == "img":
            self.order.append(f"img:{attr.get('alt')}")
        if tag == "table":
            self.order.append("table")
            self.cells.append([])
        if tag in ("td", "th", "h1", "h2", "summary"):
            self._text, self._capture = [], tag
            self._cell_class = attr.get("class") or ""
        if tag == "details":
            self._depth += 1
            self.details.append({"depth": self._depth, "open": "open" in attr, "summary": ""})

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self._depth -= 1
        if self._text is not None and tag == self._capture:
            text = "".join(self._text).strip()
            if tag in ("td", "th"):
                self.cells[-1].append((tag, self._cell_class, text))
            elif tag == "h1":
                self.h1 = text
            elif tag == "h2":
                self.order.append(f"h2:{text}")
            else:
                self.details[-1]["summary"] = text
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Page]:
    """A simulated run (attach: a batch CHAIN over 30 conversations) with a resource metric, rebuilt as a report."""
    run = tmp_path_factory.mktemp("report") / "run"
    with GenerationMonitor(
        log_dir=run, metrics_interval=0, prices=PRICES, run_name="nightly", tags={"dataset": "v3"},
        config={"temperature": 0.7, "max_tokens": 400},
    ) as monitor:  # fmt: skip
        asyncio.run(run_simulation(monitor, 30, 8, 0.2, 7))
        monitor.record_metric("process/rss_bytes", 44_800_000.0)
        monitor.record_metric("judge_score", 0.8)  # no model: must not make a blank row in the per-model table
    build_report(load_runs([run]), run)
    page = Page()
    page.feed((run / "report.html").read_text())
    return run, page


def table_after(page: Page, heading: str) -> list[tuple[str, str, str]]:
    index = page.order.index(f"h2:{heading}")
    tables_before = page.order[:index].count("table")
    return page.cells[tables_before]


def rows(cells: list[tuple[str, str, str]]) -> list[list[tuple[str, str, str]]]:
    header = sum(1 for tag, _, _ in cells if tag == "th")
    body = [c for c in cells if c[0] == "td"]
    return [body[i : i + header] for i in range(0, len(body), header)]


def test_cards_come_first_then_every_chart_once_then_the_tables(report: tuple[Path, Page]) -> None:
    """Cards, then the charts (each once, the overview not repeating them), then the tables, in a fixed order."""
    run, page = report
    assert page.order.index("cards") < page.order.index("h2:Charts")
    headings = [o[3:] for o in page.order if o.startswith("h2:")]
    assert headings == [
        "Charts",
        "Model calls by model",
        "Calls by operation",
        "Alerts",
        "Slowest units of work",
        "Every metric",
    ]
    images = [o[4:] for o in page.order if o.startswith("img:")]
    assert len(images) == len(set(images)) and "overview" not in images
    assert sorted(images) == sorted(p.stem for p in (run / "plots").glob("*.png") if p.stem != "overview")
    first_table = page.order.index("table")
    assert all(page.order.index(f"img:{name}") < first_table for name in images)


def test_the_title_and_run_facts_come_from_run_json(report: tuple[Path, Page]) -> None:
    """The run's name is in the title; its tags and config are shown under it."""
    run, page = report
    assert page.h1 == "genmon run report: nightly"
    html = (run / "report.html").read_text()
    assert "dataset=v3" in html and "temperature=<code>0.7</code>" in html and "max_tokens=<code>400</code>" in html


def test_tables_carry_units_stable_order_and_left_aligned_text(report: tuple[Path, Page]) -> None:
    """Models sorted, no blank model; numbers right-aligned with units (ms, $, MB), text left-aligned."""
    _, page = report
    models = rows(table_after(page, "Model calls by model"))
    assert [row[0][2] for row in models] == ["sim-large", "sim-small"]
    for row in models:
        assert row[0][1] == "" and all(cls == "num" for _, cls, _ in row[1:])  # text left, numbers right
        assert re.fullmatch(r"\d+(\.\d+)? ms", row[3][2]) and row[7][2].startswith("$")
    operations = rows(table_after(page, "Calls by operation"))
    assert [(row[1][2], row[0][2]) for row in operations] == [
        ("model call", "complete"),
        ("CHAIN", "generate"),
        ("CHAIN", "generate_conversation"),
        ("EVALUATOR", "evaluate_conversation"),
    ]
    metrics = {row[0][2]: [c[2] for c in row] for row in rows(table_after(page, "Every metric"))}
    assert metrics["process/rss_bytes"][1:3] == ["MB", "1"] and metrics["process/rss_bytes"][5] == "44.8"
    assert metrics["error_rate"][1] == "%" and metrics["error_rate"][5:] == ["", "", "", ""]  # no percentiles
    assert metrics["model_usage:sim-large"][4] == "" and metrics["cost_usd"][1] == "$"
    names = list(metrics)
    calls_first = ["generation_time", "success_rate", "error_rate", "prompt_token_count", "completion_token_count"]
    plain = [name for name in names if not name.endswith("]")]  # wrapper rows, "metric [SPAN TYPE]", come last
    assert names[:5] == calls_first and names[7 : len(plain)] == sorted(names[7 : len(plain)])


def test_every_metric_table_agrees_with_the_headline_cards(report: tuple[Path, Page]) -> None:
    """The Every-metric rows of a call's metrics are over model calls, as the cards; wrappers are rows of their own."""
    run, page = report
    html = (run / "report.html").read_text()
    card = dict(re.findall(r'<div class="card">([^<]+)<b>([^<]+)</b>', html))
    metrics = {row[0][2]: [c[2] for c in row] for row in rows(table_after(page, "Every metric"))}
    assert metrics["error_rate"][2] == card["model calls"] == metrics["generation_time"][2]  # count
    assert metrics["error_rate"][4] == card["error rate"]  # the share that failed
    # One CHAIN per conversation plus the batch call, one EVALUATOR per conversation that finished: how many
    # finish depends on how the simulated retries interleave in time, so the spans written say how many there were.
    spans = [json.loads(line) for line in (run / "spans.jsonl").read_text().splitlines()]
    counted = {kind: str(sum(1 for span in spans if span["span_type"] == kind)) for kind in ("CHAIN", "EVALUATOR")}
    assert counted["CHAIN"] == "31" and 20 <= int(counted["EVALUATOR"]) <= 30  # of the fixture's 30 conversations
    assert metrics["generation_time [CHAIN]"][2] == counted["CHAIN"]
    assert metrics["generation_time [EVALUATOR]"][2] == counted["EVALUATOR"]
    assert metrics["error_rate [CHAIN]"][1] == "%" and "error_rate [EVALUATOR]" in metrics


def test_the_slowest_units_are_the_conversations_under_the_batch_call_collapsible(report: tuple[Path, Page]) -> None:
    """Ten collapsible conversations, slowest first, the first open; inside, the slowest call is marked."""
    run, page = report
    units = [d for d in page.details if d["depth"] == 1]
    assert len(units) == 10
    assert all(d["summary"].startswith("generate_conversation ") for d in units)
    durations = [float(m.group(1)) for d in units if (m := re.search(r" (\d+(?:\.\d+)?) ms", d["summary"]))]
    assert len(durations) == 10 and durations == sorted(durations, reverse=True)
    assert units[0]["open"] and not any(d["open"] for d in units[1:])
    html = (run / "report.html").read_text()
    section = html[html.index("Slowest units of work") :]
    first_unit = section[section.index("<details open>") : section.index("</details>")]
    assert first_unit.count("slowest</span>") == 1
    assert "each generate_conversation inside generate" in section


class DetailsTree(HTMLParser):
    """The <details> elements as a tree: each node's call name (the <b> of its summary), open flag and children."""

    def __init__(self) -> None:
        super().__init__()
        self.root: dict[str, Any] = {"name": None, "open": True, "children": []}
        self._stack = [self.root]
        self._in_name = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "details":
            node = {"name": None, "open": "open" in dict(attrs), "children": []}
            self._stack[-1]["children"].append(node)
            self._stack.append(node)
        self._in_name = tag == "b" and len(self._stack) > 1 and self._stack[-1]["name"] is None

    def handle_endtag(self, tag: str) -> None:
        if tag == "details":
            self._stack.pop()
        self._in_name = False

    def handle_data(self, data: str) -> None:
        if self._in_name:
            self._stack[-1]["name"] = data


def test_the_slowest_child_path_is_open_at_every_depth(tmp_path: Path) -> None:
    """In a 3-level tree the open <details> go unit -> its slowest child -> that child's slowest child, siblings closed."""
    spans: list[dict[str, Any]] = []

    def call(name: str, parent: str | None, start: float, duration: float, span_type: str = "CHAIN") -> str:
        spans.append({"call_id": name, "parent_call_id": parent, "name": name, "span_type": span_type,
                      "start": start, "duration_s": duration, "success": True})  # fmt: skip
        return name

    # The slowest child is never the first started, nor the one with the most children.
    job = call("job", None, 0.0, 6.0)
    for step, start, duration in (("step_a", 0.0, 1.0), ("step_b", 1.0, 3.0), ("step_c", 4.0, 2.0)):
        call(step, job, start, duration)
        for part, offset, share in (("x", 0.0, 0.2), ("y", 0.2, 0.7), ("z", 0.9, 0.1)):
            middle = call(f"{step}_{part}", step, start + offset * duration, share * duration)
            for leaf in range(3 if part == "z" else 2):
                call(f"{middle}_llm{leaf}", middle, start + offset * duration, share * duration / 3, "LLM")
    call("other_job", None, 6.0, 0.5)  # a faster unit of work, closed
    path = write_report(report_input([], spans, [], title="tree", sources=["test"]), tmp_path / "report.html")
    text = path.read_text()
    tree = DetailsTree()
    tree.feed(text[text.index("Slowest units of work") :])
    units = tree.root["children"]
    assert [(u["name"], u["open"]) for u in units] == [("job", True), ("other_job", False)]
    opened, node = [], units[0]
    while node["children"]:
        kids = {kid["name"]: kid["open"] for kid in node["children"]}
        assert sum(kids.values()) == 1, kids  # exactly one child open at each depth
        node = next(kid for kid in node["children"] if kid["open"])
        opened.append(node["name"])
    assert opened == ["step_b", "step_b_y"]  # the slowest at depth 2, then the slowest inside it at depth 3
    marked = re.findall(r"<b>(\w+)</b> <span class='muted'>[^<]*</span> <span class=\"slow\">", text)
    assert {"step_b", "step_b_y"} <= set(marked)  # and marked as the slowest

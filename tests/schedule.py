"""The order the two workers of ``make test`` take the suite's scopes in: longest first.

A scope is a test file on one engine (``"postgresql tests/test_cli.py"``); a file without a
database parameter is its own scope. xdist's ``loadscope`` hands each worker the next scope
when it runs out, in the order of the collection. Taken by number of tests (xdist's own order),
a file of a few long tests (a live server, a subprocess per test) could come last and leave one
worker running it alone for a minute while the other idles; taken longest first, the last
scopes are short and the two workers end together.

The seconds are those ``make durations`` recorded (setup, call and teardown of each test,
summed by scope) in ``tests/durations.json``. A scope the file does not know (a new file) is
counted at the median seconds a test of the recorded scopes took, times its number of tests.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")
ENGINES = ("sqlite", "postgresql")

# A test's engine, read from its id: "test_x[sqlite]", "test_y[postgresql-redis]".
_ENGINE_IN_ID = re.compile(r"\[(?:[^\]]*-)?(" + "|".join(ENGINES) + r")(?:-[^\]]*)?\]$")


def scope_of(nodeid: str) -> str:
    module = nodeid.split("::", 1)[0]
    found = _ENGINE_IN_ID.search(nodeid)
    return module if found is None else f"{found.group(1)} {module}"


def recorded(path: Path = DURATIONS) -> dict[str, float]:
    if not path.exists():
        return {}
    seconds: dict[str, float] = json.loads(path.read_text(encoding="utf-8"))["seconds"]
    return seconds


def longest_first(items: list[pytest.Item], seconds: dict[str, float]) -> list[pytest.Item]:
    """The items regrouped by scope, the scopes in decreasing expected seconds; within a scope
    (and between scopes expected to take as long) the collection's own order."""
    tests = Counter(scope_of(item.nodeid) for item in items)
    per_test = (
        statistics.median(seconds[scope] / tests[scope] for scope in tests if scope in seconds)
        if any(scope in seconds for scope in tests)
        else 1.0
    )
    expected = {scope: seconds.get(scope, per_test * count) for scope, count in tests.items()}
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items):
        first_seen.setdefault(scope_of(item.nodeid), index)
    order = {
        scope: rank
        for rank, scope in enumerate(sorted(tests, key=lambda s: (-expected[s], first_seen[s])))
    }
    return sorted(items, key=lambda item: order[scope_of(item.nodeid)])


class Recorder:
    """``--record-durations``: sums each scope's seconds over the run's reports and writes them
    into ``tests/durations.json`` at the end, keeping the scopes this run did not see."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[scope_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self) -> None:
        seconds = {**recorded(self.path), **{k: round(v, 1) for k, v in self.seconds.items()}}
        document = {
            "about": "seconds a scope (a test file on one engine) took: make durations",
            "seconds": dict(sorted(seconds.items())),
        }
        self.path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")

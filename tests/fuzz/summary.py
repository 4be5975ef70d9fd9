"""The closing section of the fuzzing: how many cases ran, per engine and role.

A plugin registered by the root conftest, so that the process that prints the summary (the
controller of a parallel run, which loads no conftest below the root) has these hooks too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests import workers

cases_run: Counter[tuple[str, str]] = Counter()


def pytest_sessionfinish(session: pytest.Session) -> None:
    workers.hand_over(session.config, "fuzz_cases", [[*key, n] for key, n in cases_run.items()])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    for engine, role, count in workers.received(node, "fuzz_cases") or ():
        cases_run[(engine, role)] += count


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not cases_run:
        return
    terminalreporter.section("fuzzing from the OpenAPI document: cases run")
    for (engine, role), count in sorted(cases_run.items()):
        terminalreporter.write_line(f"{engine:>10} {role:<18} {count}")
    terminalreporter.write_line(f"{'total':>10} {'':<18} {sum(cases_run.values())}")

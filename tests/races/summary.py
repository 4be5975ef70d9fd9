"""A closing section that says how many pairs of transitions were raced, and how they ended.

A plugin registered by the root conftest, so that the process that prints the summary (the
controller of a parallel run, which loads no conftest below the root) has these hooks too; the
reports of the workers reach it with their ``user_properties``.
"""

from __future__ import annotations

import pytest

_races: dict[str, tuple[str, str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    properties = dict(report.user_properties)
    if "race" not in properties or report.when != "call":
        return
    if report.passed:
        winners = properties.get("winners")
        counts = winners.items() if isinstance(winners, dict) else ()
        detail = ", ".join(f"{n}× {who}" for who, n in counts)
    else:
        crash = getattr(report.longrepr, "reprcrash", None)
        lines = str(crash.message if crash else report.longrepr).splitlines() or [""]
        detail = next((line.strip() for line in lines[1:] if line.strip()), lines[0][:200])
    _races[str(properties["race"])] = (report.outcome, detail)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _races:
        return
    outcomes = [outcome for outcome, _ in _races.values()]
    terminalreporter.section("transition races")
    terminalreporter.write_line(
        f"{len(_races)} pairs raced: {outcomes.count('passed')} passed, "
        f"{outcomes.count('failed')} failed"
    )
    for label, (outcome, detail) in _races.items():
        terminalreporter.write_line(f"  {outcome:6}  {label:34}  {detail[:150]}")

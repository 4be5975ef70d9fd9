"""The proofs' summary: one Markdown table from the load and outage results.

``python -m benchmarks.proof_summary`` reads ``benchmarks/results/proof_load.json`` and
``proof_outage.json`` and writes ``proof_summary.md`` beside them (the table the README shows).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from benchmarks.proof_common import RESULTS


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def load_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The load proof's lines: the held rate and its latency, errors, the throughput ratio."""
    hold, ratio = result["hold"], result["throughput"]
    return [
        (f"load: rate held (p99 < {result['p99_target_ms']:g} ms)", f"{hold['rate']:g} req/s"),
        ("load: hold", f"{hold['seconds']:g} s, {hold['requests']} requests"),
        (
            "load: p50 / p95 / p99 / max",
            f"{hold['p50_ms']} / {hold['p95_ms']} / {hold['p99_ms']} / {hold['max_ms']} ms",
        ),
        ("load: errors (non-2xx or no answer)", str(hold["errors"])),
        (
            "load: higher rates that did not hold",
            ", ".join(f"{failed['rate']:g} req/s" for failed in result.get("failed_holds", []))
            or "none",
        ),
        ("load: sustained", "yes" if hold["sustained"] else "**no**"),
        (
            "load: browse / bare endpoint throughput",
            f"{ratio['browse_to_bare']} ({ratio['browse']['rps']} / "
            f"{ratio['bare_me']['rps']} req/s, {ratio['clients']} clients)",
        ),
    ]


def outage_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The outage proof's lines: the answers while down, recovery, acknowledged writes kept."""
    outage, stored, mode = result["outage"], result["durability"], result["mode"]
    timeouts = result["service_timeouts_s"]
    return [
        (
            f"outage ({mode}): database down",
            f"{result['seconds']['outage']:g} s under {result['rate']:g} req/s "
            f"(service timeouts: connect {timeouts['connect']:g} s, "
            f"statement {timeouts['command']:g} s)",
        ),
        (
            f"outage ({mode}): requests sent while down → {outage['expected_while_down']}",
            f"{outage['requests_while_down']}, all: "
            f"{'yes' if outage['all_as_expected_while_down'] else '**no**'}",
        ),
        (f"outage ({mode}): slowest answer while down", f"{outage['slowest_while_down_ms']} ms"),
        (f"outage ({mode}): other failures (500, no answer)", str(outage["other_failures"])),
        (
            f"outage ({mode}): serving again after the start",
            f"{outage['recovery_seconds']} s (then p99 {outage['p99_after_start_ms']} ms)",
        ),
        (
            f"outage ({mode}): acknowledged writes in the table",
            f"{stored['acknowledged'] - stored['missing']} of {stored['acknowledged']} "
            f"({stored['acknowledged_before_stop']} before the stop)",
        ),
        (f"outage ({mode}): passed", "yes" if result["passed"] else "**no**"),
    ]


def table() -> str:
    rows: list[tuple[str, str]] = []
    proofs = (
        ("proof_load.json", load_rows),
        ("proof_outage.json", outage_rows),
        ("proof_outage_freeze.json", outage_rows),
    )
    for name, rows_of in proofs:
        result = _load(name)
        rows += rows_of(result) if result else [(name, "not run")]
    machine = f"{os.cpu_count()} cores, {platform.system()} {platform.machine()}"
    lines = [f"| measure ({machine}) | result |", "|---|---|"]
    return "\n".join(lines + [f"| {label} | {value} |" for label, value in rows]) + "\n"


def main() -> None:
    text = table()
    Path(RESULTS / "proof_summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

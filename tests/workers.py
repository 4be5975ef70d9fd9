"""Summaries across the workers of a parallel run (pytest-xdist).

``make test`` runs the suite in two worker processes, one per database engine. A closing summary
that counts something in the process that ran the tests (bodies scanned, fuzz cases) would see
nothing in the controller, which prints it; so each worker hands its counts over when it
finishes, and the controller adds them up as each worker goes down. Without xdist, nothing is
handed over and each summary reads its own counts, as before.
"""

from __future__ import annotations

import json
from typing import Any

import pytest


def hand_over(config: pytest.Config, key: str, state: Any) -> bool:
    """In a worker: send ``state`` (JSON data) to the controller; False outside a worker."""
    output = getattr(config, "workeroutput", None)
    if output is None:
        return False
    # As ASCII JSON: execnet sends only UTF-8-encodable text, and a fuzzed string may not be.
    output[key] = json.dumps(state)
    return True


def received(node: Any, key: str) -> Any:
    """In the controller: what the worker ``node`` handed over under ``key`` (or None)."""
    sent = getattr(node, "workeroutput", {}).get(key)
    return None if sent is None else json.loads(sent)

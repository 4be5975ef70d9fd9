"""Allocating a county's pool among 10,000 open needs: the exact knapsack's time.

The needs are priced as Dongkou's are (¥100 to ¥20,000, whole yuan) and weighted by priority
as the allocation weighs them (urgency 1-3, a fifth key households, 0-365 days waiting); the
pool holds a quarter of their total value. Each run times `matching.knapsack` on a new instance
(its own seed); the figure is the median of ``--runs``, printed and written to
benchmarks/results/knapsack.json with the machine's load average.

Run with ``python -m benchmarks.knapsack``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

import matching

RESULTS = Path(__file__).parent / "results"


def instance(needs: int, seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    amounts = rng.integers(100, 20_001, needs) * 100
    urgency = rng.integers(1, 4, needs)
    key = rng.random(needs) < 0.2
    waiting = rng.integers(0, 366, needs)
    priority = 1 + 0.5 * (urgency - 1) + 1.0 * key + 0.1 * waiting / 30
    return amounts * priority, amounts, int(amounts.sum() // 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--needs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    seconds, chosen = [], []
    for seed in range(args.runs):
        values, amounts, pool = instance(args.needs, seed)
        started = time.perf_counter()
        result = matching.knapsack(values, amounts, pool)
        seconds.append(time.perf_counter() - started)
        chosen.append(int(result.chosen.size))
    summary = {
        "needs": args.needs,
        "runs": args.runs,
        "median_seconds": round(statistics.median(seconds), 3),
        "seconds": [round(s, 3) for s in seconds],
        "needs_chosen": chosen,
        "load_average": os.getloadavg(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "knapsack.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

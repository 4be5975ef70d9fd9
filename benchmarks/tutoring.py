"""One-to-one tutoring at Zhanjiang's scale: 1,830 students and 2,000 volunteers, paired exactly.

Zhanjiang surveyed 1,830 poor students in five groups and paired them one-to-one with
volunteers from a pool of over 2,000 (云支教). The instance below has that shape: students of the
five groups (four grade bands, the fifth a mixed band of senior students wanting physics and
chemistry), one to three subjects and three to six free weekly slots each; volunteers teach one
to three subjects to one or two grade bands in four to ten weekly slots, take one to three
students, and a third prefer students of their own township. Each run times
`matching.pair_students` on the same instance in a fresh Python process (a cold start: numpy
and scipy imported, the instance built, then the call timed); the figure is the median of
``--runs``. Results are printed and written to benchmarks/results/tutoring.json with the
machine's load average (other work on the machine slows every figure).

Run with ``python -m benchmarks.tutoring``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

import matching
from benchmarks.workload import dongkou_villages

RESULTS = Path(__file__).parent / "results"


def random_masks(rng: np.random.Generator, size: int, bits: int, low: int, high: int) -> Any:
    """Masks of ``low`` to ``high`` distinct bits out of ``bits``."""
    counts = rng.integers(low, high + 1, size)
    masks = np.zeros(size, dtype=np.int64)
    for index, count in enumerate(counts.tolist()):
        chosen = rng.choice(bits, count, replace=False)
        masks[index] = int(sum(1 << int(bit) for bit in chosen))
    return masks


def instance(
    students: int, volunteers: int, seed: int
) -> tuple[matching.Students, matching.Volunteers]:
    rng = np.random.default_rng(seed)
    codes = dongkou_villages()
    group = rng.integers(0, 5, students)
    band = np.minimum(group, 3)
    subjects = random_masks(rng, students, 10, 1, 3)
    subjects = np.where(group == 4, subjects | 0b11000, subjects)  # physics and chemistry
    student_villages = rng.choice(codes, students)
    townships = np.array(sorted({code[:9] for code in codes.tolist()}))
    preferred = np.where(rng.random(volunteers) < 1 / 3, rng.choice(townships, volunteers), "")
    return (
        matching.Students(
            subjects=subjects,
            band=band,
            slots=random_masks(rng, students, 21, 3, 6),
            village=student_villages,
        ),
        matching.Volunteers(
            subjects=random_masks(rng, volunteers, 10, 1, 3),
            bands=random_masks(rng, volunteers, 4, 1, 2),
            slots=random_masks(rng, volunteers, 21, 4, 10),
            capacity=rng.integers(1, 4, volunteers),
            preferred=preferred,
        ),
    )


def one_run(students: int, volunteers: int, seed: int) -> dict[str, Any]:
    pupils, tutors = instance(students, volunteers, seed)
    result = matching.pair_students(pupils, tutors)
    feasible, _ = matching.scores(pupils, tutors)
    return {
        "seconds": result.seconds,
        "matched": result.matched,
        "objective": result.objective,
        "feasible_pairs": int(feasible.sum()),
        "capacity": int(tutors.capacity.sum()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1830)
    parser.add_argument("--volunteers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_run(args.students, args.volunteers, args.seed)))
        return
    runs = []
    for _ in range(args.runs):
        before = os.getloadavg()[0]
        output = subprocess.run(
            [sys.executable, "-m", "benchmarks.tutoring", "--one", "--students",
             str(args.students), "--volunteers", str(args.volunteers), "--seed", str(args.seed)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        runs.append({**json.loads(output), "load_before": before})
    seconds = [run["seconds"] for run in runs]
    summary = {
        "students": args.students,
        "volunteers": args.volunteers,
        "seed": args.seed,
        "median_seconds": statistics.median(seconds),
        "runs": runs,
        "load_after": os.getloadavg()[0],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tutoring.json").write_text(json.dumps(summary, indent=2) + "\n")
    first = runs[0]
    print(
        f"pair_students {args.students} students x {args.volunteers} volunteers: "
        f"{first['matched']} paired, score {first['objective']}, "
        f"{first['feasible_pairs']} feasible pairs; median {summary['median_seconds']:.2f} s "
        f"of {args.runs} cold runs ({', '.join(f'{s:.2f}' for s in seconds)})"
    )


if __name__ == "__main__":
    main()

"""The matching engine: speed and memory against a dense baseline, quality, exactness, growth.

Run with ``python -m benchmarks.matching`` (``--help`` for cases and sizes). Every timing is the
median of ``--runs`` runs, each in a fresh Python process that loads the instance from a file
and measures one thing (a cold start: first call in the process), so that its peak memory
belongs to that thing alone, plus the interpreter, numpy, scipy and the instance (reported as
``rss_before_mib``). Peak memory is the larger of the process's ``ru_maxrss`` and the largest
total RSS of its process tree sampled every 20 ms (worker processes of a forkserver are not
children of the measuring process, so ``RUSAGE_CHILDREN`` would miss them). Results are printed
and written to benchmarks/results/matching.json, with the machine's load average around each
case (other work on the machine slows every figure).

Cases
-----
county
    Engine only at county scale (Dongkou's real villages; default 50,000 needs and 20,000
    offer units over six categories; offers prefer a township, the county or anywhere):
    `matching.solve` (sequential; 2 worker threads; 2 worker processes, cold and warm)
    beside the straightforward baseline, one dense
    `linear_sum_assignment` per category on the float scores with cardinality-first costs,
    single-threaded. Both must reach the same matched count and objective (1e-6 relative).
quality
    On the county instance: needs matched, total score and expected successes of `solve`
    against first-come (needs in posting order, each taking the best free feasible offer).
exact
    Instances small enough for one global dense assignment and for `scipy.optimize.milp`
    (two stages: most pairs, then best score at that count): all three must agree to 1e-9.
growth
    1, 10 and 100 sampled counties nationally (10,000 needs and 3,000 units per county; some
    offers prefer a whole province): wall time and peak memory against the largest block.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy
from scipy.optimize import Bounds, LinearConstraint, linear_sum_assignment, milp
from scipy.sparse import csr_array

import matching
from benchmarks import workload
from matching._success import band_of_length

RESULTS = Path(__file__).parent / "results"
RELATIVE = 1e-6


# -- instances on disk, so that each measurement runs in a fresh process ----------------------


def save(instance: workload.Instance, path: Path) -> None:
    needs, offers, model, params = (
        instance.needs,
        instance.offers,
        instance.model,
        instance.params,
    )
    assert model.segment_successes is not None
    assert model.segment_failures is not None
    np.savez(
        path,
        need_ids=needs.ids,
        need_category=needs.category,
        need_village=needs.village,
        need_value=needs.value,
        need_urgency=needs.urgency,
        need_days=needs.days_waiting,
        need_key=needs.key_household,
        offer_ids=offers.ids,
        offer_category=offers.category,
        offer_region=offers.region,
        offer_capacity=offers.capacity,
        offer_cap=offers.value_cap,
        offer_successes=offers.donor_successes,
        offer_failures=offers.donor_failures,
        segment_successes=model.segment_successes,
        segment_failures=model.segment_failures,
        categories=np.array(model.categories),
        meta=np.array(
            json.dumps(
                {
                    "name": instance.name,
                    "prior": model.prior,
                    "segment_strength": model.segment_strength,
                    "donor_strength": model.donor_strength,
                    "params": {
                        "urgency_weight": params.urgency_weight,
                        "waiting_weight": params.waiting_weight,
                        "key_household_weight": params.key_household_weight,
                        "waiting_unit_days": params.waiting_unit_days,
                        "probability_floor": params.probability_floor,
                        "memory_budget": params.memory_budget,
                        "workers": params.workers,
                    },
                }
            )
        ),
    )


def load(path: Path) -> workload.Instance:
    data = np.load(path)
    meta = json.loads(str(data["meta"]))
    return workload.Instance(
        name=meta["name"],
        needs=matching.Needs(
            ids=data["need_ids"],
            category=data["need_category"],
            village=data["need_village"],
            value=data["need_value"],
            urgency=data["need_urgency"],
            days_waiting=data["need_days"],
            key_household=data["need_key"],
        ),
        offers=matching.Offers(
            ids=data["offer_ids"],
            category=data["offer_category"],
            region=data["offer_region"],
            capacity=data["offer_capacity"],
            value_cap=data["offer_cap"],
            donor_successes=data["offer_successes"],
            donor_failures=data["offer_failures"],
        ),
        model=matching.SuccessModel(
            prior=meta["prior"],
            segment_strength=meta["segment_strength"],
            donor_strength=meta["donor_strength"],
            segment_successes=data["segment_successes"],
            segment_failures=data["segment_failures"],
            categories=data["categories"],
        ),
        params=matching.Parameters(**meta["params"]),
    )


# -- the comparison algorithms ------------------------------------------------------------------


def offer_terms(instance: workload.Instance) -> tuple[npt.NDArray[np.float64], Any]:
    """Each offer's probability and whether it clears the floor (as `solve` computes them)."""
    offers = instance.offers
    probability = instance.model.probability(
        offers.category,
        band_of_length(offers.region_length),
        offers.donor_successes,
        offers.donor_failures,
    )
    return probability, probability >= instance.params.probability_floor


def feasibility(
    instance: workload.Instance, need_rows: Any, unit_offers: Any
) -> npt.NDArray[np.bool_]:
    """Dense feasibility (units x needs), built per distinct region preference."""
    needs, offers = instance.needs, instance.offers
    codes = needs.village_code[need_rows]
    values = needs.value[need_rows]
    categories = needs.category[need_rows]
    result = np.zeros((unit_offers.shape[0], need_rows.shape[0]), dtype=bool)
    keys = offers.region_length[unit_offers] * 10**12 + offers.region_code[unit_offers]
    for category in np.unique(offers.category[unit_offers]).tolist():
        same = categories == category
        for key in np.unique(keys[offers.category[unit_offers] == category]).tolist():
            rows = np.flatnonzero((keys == key) & (offers.category[unit_offers] == category))
            length, code = divmod(key, 10**12)
            inside = same & (codes // 10 ** (12 - length) == code)
            caps = offers.value_cap[unit_offers[rows]]
            result[rows] = inside[None, :] & (values[None, :] <= caps[:, None])
    return result


def dense_assignment(
    instance: workload.Instance, need_rows: Any, offer_rows: Any
) -> tuple[Any, Any]:
    """One dense linear_sum_assignment on float scores, cardinality first (the baseline)."""
    offers = instance.offers
    probability, _ = offer_terms(instance)
    priority = instance.params.priority(instance.needs)
    unit_offers = np.repeat(offer_rows, offers.capacity[offer_rows])
    feasible = feasibility(instance, need_rows, unit_offers)
    cost = np.add.outer(np.log(probability[unit_offers]), priority[need_rows])
    low, high = float(cost.min()), float(cost.max())
    big = min(cost.shape) * (high - low) + 1.0
    cost -= low - big
    np.negative(cost, out=cost)
    cost[~feasible] = 0.0
    del feasible
    rows, cols = linear_sum_assignment(cost)
    real = cost[rows, cols] < 0
    return need_rows[cols[real]], unit_offers[rows[real]]


def baseline(instance: workload.Instance) -> tuple[Any, Any]:
    """The straightforward engine: one dense assignment per category, single-threaded."""
    needs, offers = instance.needs, instance.offers
    _, active = offer_terms(instance)
    need_parts, offer_parts = [], []
    for category in np.unique(needs.category).tolist():
        need_rows = np.flatnonzero(needs.category == category)
        offer_rows = np.flatnonzero((offers.category == category) & active)
        if need_rows.size and offer_rows.size:
            pair_needs, pair_offers = dense_assignment(instance, need_rows, offer_rows)
            need_parts.append(pair_needs)
            offer_parts.append(pair_offers)
    return np.concatenate(need_parts), np.concatenate(offer_parts)


def global_dense(instance: workload.Instance) -> tuple[Any, Any]:
    """Everything in one dense assignment (infeasible across categories): small cases only."""
    _, active = offer_terms(instance)
    need_rows = np.arange(len(instance.needs))
    offer_rows = np.flatnonzero(active)
    # Categories are folded into feasibility by giving other categories' pairs zero cost.
    pair_needs, pair_offers = dense_assignment(instance, need_rows, offer_rows)
    same = instance.needs.category[pair_needs] == instance.offers.category[pair_offers]
    if not same.all():
        raise AssertionError("global dense assignment used a cross-category pair")
    return pair_needs, pair_offers


def feasible_pairs(instance: workload.Instance) -> tuple[Any, Any]:
    """All feasible (need, offer) pairs at offer level."""
    needs, offers = instance.needs, instance.offers
    _, active = offer_terms(instance)
    pair_needs, pair_offers = [], []
    for o in np.flatnonzero(active).tolist():
        length = int(offers.region_length[o])
        ok = (
            (needs.category == offers.category[o])
            & (needs.village_code // 10 ** (12 - length) == offers.region_code[o])
            & (needs.value <= offers.value_cap[o])
        )
        rows = np.flatnonzero(ok)
        pair_needs.append(rows)
        pair_offers.append(np.full(rows.shape[0], o))
    return np.concatenate(pair_needs), np.concatenate(pair_offers)


def milp_optimum(instance: workload.Instance) -> tuple[Any, Any]:
    """Two-stage milp on offer-level pairs: the largest count, then the best score."""
    probability, _ = offer_terms(instance)
    priority = instance.params.priority(instance.needs)
    pn, po = feasible_pairs(instance)
    score = priority[pn] + np.log(probability[po])
    n_pairs = pn.shape[0]
    columns = np.arange(n_pairs)
    by_need = csr_array((np.ones(n_pairs), (pn, columns)), shape=(len(instance.needs), n_pairs))
    by_offer = csr_array((np.ones(n_pairs), (po, columns)), shape=(len(instance.offers), n_pairs))
    constraints = [
        LinearConstraint(by_need, 0, 1),
        LinearConstraint(by_offer, 0, instance.offers.capacity),
    ]
    integral = np.ones(n_pairs)
    first = milp(
        -np.ones(n_pairs), constraints=constraints, integrality=integral, bounds=Bounds(0, 1)
    )
    count = round(-first.fun)
    constraints.append(LinearConstraint(np.ones((1, n_pairs)), count, count))
    second = milp(-score, constraints=constraints, integrality=integral, bounds=Bounds(0, 1))
    chosen = np.flatnonzero(second.x > 0.5)
    return pn[chosen], po[chosen]


def first_come(instance: workload.Instance) -> tuple[Any, Any]:
    """Needs in posting order (id), each taking the free feasible offer of best probability."""
    needs, offers = instance.needs, instance.offers
    probability, active = offer_terms(instance)
    groups: dict[tuple[Any, int, int], list[int]] = {}
    for o in np.flatnonzero(active).tolist():
        key = (offers.category[o], int(offers.region_length[o]), int(offers.region_code[o]))
        groups.setdefault(key, []).append(o)
    best_first = {
        key: np.array(sorted(members, key=lambda o: (-probability[o], offers.ids[o])))
        for key, members in groups.items()
    }
    remaining = offers.capacity.copy()
    pair_needs, pair_offers = [], []
    for i in np.argsort(needs.ids, kind="stable").tolist():
        code, value, category = int(needs.village_code[i]), needs.value[i], needs.category[i]
        chosen = -1
        for length in (0, 2, 4, 6, 9, 12):
            members = best_first.get((category, length, code // 10 ** (12 - length)))
            if members is None:
                continue
            free = (offers.value_cap[members] >= value) & (remaining[members] > 0)
            if free.any():
                o = int(members[int(np.argmax(free))])
                if chosen < 0 or (probability[o], -offers.ids[o]) > (
                    probability[chosen],
                    -offers.ids[chosen],
                ):
                    chosen = o
        if chosen >= 0:
            remaining[chosen] -= 1
            pair_needs.append(i)
            pair_offers.append(chosen)
    return np.array(pair_needs, dtype=np.intp), np.array(pair_offers, dtype=np.intp)


def figures(instance: workload.Instance, pair_needs: Any, pair_offers: Any) -> dict[str, Any]:
    probability, _ = offer_terms(instance)
    priority = instance.params.priority(instance.needs)
    score = priority[pair_needs] + np.log(probability[pair_offers])
    return {
        "matched": int(pair_needs.shape[0]),
        "objective": math.fsum(score.tolist()),
        "expected_successes": math.fsum(probability[pair_offers].tolist()),
    }


# -- one measurement in this (fresh) process ---------------------------------------------------


class TreeMemory:
    """Largest total RSS of this process and all its descendants, sampled every 20 ms.

    Worker processes of a forkserver are not our children, so ``RUSAGE_CHILDREN`` misses
    them; sampling /proc sees the whole tree (and may miss spikes shorter than a sample).
    """

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kib = max(self.peak_kib, tree_rss_kib(os.getpid()))

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024


def tree_rss_kib(root: int) -> int:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in members:
                members.add(pid)
                frontier.append(pid)
    total = 0
    for pid in members:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def measure(kind: str, path: Path, workers: int, parallel: str) -> dict[str, Any]:
    instance = load(path)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    extra: dict[str, Any] = {}
    with TreeMemory() as tree:
        started = time.perf_counter()
        if kind == "solve":
            params = dataclasses.replace(instance.params, workers=workers, parallel=parallel)
            result = matching.solve(instance.needs, instance.offers, params, model=instance.model)
            seconds = time.perf_counter() - started
            pair_needs, pair_offers = result.need_index, result.offer_index
            extra = block_figures(result.blocks)
            if parallel == "processes":
                # Again in the same process: the forkserver and its imports are warm now, as
                # in a long-running service.
                again = time.perf_counter()
                matching.solve(instance.needs, instance.offers, params, model=instance.model)
                extra["seconds_warm"] = time.perf_counter() - again
        else:
            algorithms = {
                "baseline": baseline,
                "global": global_dense,
                "milp": milp_optimum,
                "first_come": first_come,
            }
            pair_needs, pair_offers = algorithms[kind](instance)
            seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "peak_rss_mib": max(usage / 1024, tree.peak_mib),
        "peak_rss_self_mib": usage / 1024,
        "rss_before_mib": rss_before / 1024,
        **figures(instance, pair_needs, pair_offers),
        **extra,
    }


def block_figures(blocks: matching.BlockStats) -> dict[str, Any]:
    largest = int(np.argmax(blocks.units * blocks.needs)) if len(blocks) else None
    return {
        "blocks": len(blocks),
        "paths": {p: int((blocks.path == p).sum()) for p in ("dense", "sparse")},
        "largest_block": None
        if largest is None
        else {
            "needs": int(blocks.needs[largest]),
            "units": int(blocks.units[largest]),
            "candidates": int(blocks.candidates[largest]),
            "path": str(blocks.path[largest]),
            "seconds": round(float(blocks.seconds[largest]), 3),
        },
        "solver_seconds": round(float(blocks.solver_seconds.sum()), 3),
    }


def run_child(kind: str, path: Path, workers: int = 1, parallel: str = "threads") -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.matching", "--child", kind, str(path)]
    command += ["--workers", str(workers), "--parallel", parallel]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def median_of(
    kind: str, path: Path, runs: int, workers: int = 1, parallel: str = "threads"
) -> dict[str, Any]:
    """The median time and peak memory of `runs` fresh-process runs (figures of the last)."""
    samples = []
    for _ in range(runs):
        samples.append(run_child(kind, path, workers, parallel))
        print(
            f"    {kind} (workers={workers} {parallel}): {samples[-1]['seconds']:.2f} s",
            file=sys.stderr,
        )
    result = dict(samples[-1])
    for key in ("seconds", "seconds_warm", "peak_rss_mib", "peak_rss_self_mib", "rss_before_mib"):
        if key in result:
            result[key] = round(statistics.median(s[key] for s in samples), 3)
    result["runs"] = [round(s["seconds"], 3) for s in samples]
    for key in ("objective", "expected_successes"):
        if len({s[key] for s in samples}) != 1:
            raise AssertionError(f"{kind}: {key} differs between runs")
    return result


def agree(a: dict[str, Any], b: dict[str, Any], relative: float) -> bool:
    scale = max(1.0, abs(a["objective"]), abs(b["objective"]))
    return bool(
        a["matched"] == b["matched"] and abs(a["objective"] - b["objective"]) <= relative * scale
    )


# -- cases ----------------------------------------------------------------------------------------


def case_county(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    instance = workload.county(args.needs, args.units, args.seed)
    path = folder / "county.npz"
    save(instance, path)
    print(f"county: {instance.needs!r}, {instance.offers!r}", file=sys.stderr)
    solve_1 = median_of("solve", path, args.runs, 1)
    solve_2 = median_of("solve", path, args.runs, 2, "threads")
    solve_p = median_of("solve", path, args.runs, 2, "processes")
    base = median_of("baseline", path, args.runs)
    return {
        "instance": {
            "needs": len(instance.needs),
            "units": instance.offers.units,
            "offers": len(instance.offers),
        },
        "solve_1_worker": solve_1,
        "solve_2_threads": solve_2,
        "solve_2_processes": solve_p,
        "baseline": base,
        "same_result": all(agree(r, base, RELATIVE) for r in (solve_1, solve_2, solve_p)),
        "speedup": {
            "1_worker": round(base["seconds"] / solve_1["seconds"], 2),
            "2_threads": round(base["seconds"] / solve_2["seconds"], 2),
            "2_processes_cold": round(base["seconds"] / solve_p["seconds"], 2),
            "2_processes_warm": round(base["seconds"] / solve_p["seconds_warm"], 2),
        },
    }


def case_quality(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    instance = workload.county(args.needs, args.units, args.seed)
    path = folder / "county.npz"
    save(instance, path)
    engine = run_child("solve", path, 1)
    greedy = run_child("first_come", path)
    keys = ("matched", "objective", "expected_successes")
    return {
        "solve": {k: engine[k] for k in keys},
        "first_come": {k: greedy[k] for k in keys},
        "gain": {k: round(engine[k] - greedy[k], 3) for k in keys},
    }


def case_exact(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    rows = []
    for index, (needs, units) in enumerate(((300, 120), (1000, 400), (2000, 800))):
        instance = workload.county(needs, units, args.seed + index)
        path = folder / f"exact-{needs}.npz"
        save(instance, path)
        print(f"exact: {needs} needs, {units} units", file=sys.stderr)
        engine = median_of("solve", path, args.runs, 1)
        dense = median_of("global", path, args.runs)
        integer = median_of("milp", path, args.runs)
        rows.append(
            {
                "needs": needs,
                "units": units,
                "solve": engine,
                "global_dense": dense,
                "milp": integer,
                "agree_1e-9": agree(engine, dense, 1e-9) and agree(engine, integer, 1e-9),
                "time_ratio_global_over_solve": round(dense["seconds"] / engine["seconds"], 1),
                "time_ratio_milp_over_solve": round(integer["seconds"] / engine["seconds"], 1),
            }
        )
    return rows


def case_growth(args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    by_county = workload.national_villages()
    rows = []
    for counties in args.counties:
        instance = workload.national(counties, seed=args.seed, villages_by_county=by_county)
        path = folder / f"growth-{counties}.npz"
        save(instance, path)
        print(
            f"growth: {counties} counties, {instance.needs!r}, {instance.offers!r}", file=sys.stderr
        )
        measured = median_of("solve", path, args.runs, args.growth_workers, args.growth_parallel)
        rows.append(
            {
                "counties": counties,
                "needs": len(instance.needs),
                "units": instance.offers.units,
                "workers": f"{args.growth_workers} {args.growth_parallel}",
                **measured,
            }
        )
    return rows


def print_report(report: dict[str, Any]) -> None:
    if "county" in report:
        c = report["county"]
        print(f"\n== county scale: {c['instance']} (median of runs) ==")
        print(f"  {'':22} {'seconds':>9} {'peak MiB':>9} {'matched':>8} {'objective':>14}")
        for key in ("baseline", "solve_1_worker", "solve_2_threads", "solve_2_processes"):
            r = c[key]
            warm = f"  (warm: {r['seconds_warm']:.2f} s)" if "seconds_warm" in r else ""
            print(
                f"  {key:22} {r['seconds']:9.2f} {r['peak_rss_mib']:9.0f} "
                f"{r['matched']:8d} {r['objective']:14.4f}{warm}"
            )
        print(f"  same matched count and objective: {c['same_result']}; speedup {c['speedup']}")
    if "quality" in report:
        q = report["quality"]
        print("\n== quality against first-come ==")
        for key in ("solve", "first_come", "gain"):
            r = q[key]
            print(
                f"  {key:12} matched {r['matched']:>8}  score {r['objective']:>12.2f}  "
                f"expected successes {r['expected_successes']:>10.2f}"
            )
    if "exact" in report:
        print("\n== exactness ==")
        for r in report["exact"]:
            print(
                f"  {r['needs']:>5} needs {r['units']:>4} units: agree {r['agree_1e-9']}, "
                f"solve {r['solve']['seconds']:.3f} s, global dense "
                f"{r['global_dense']['seconds']:.3f} s, milp {r['milp']['seconds']:.3f} s"
            )
    if "growth" in report:
        print("\n== growth ==")
        for r in report["growth"]:
            big = r.get("largest_block") or {}
            warm = f" (warm {r['seconds_warm']:.2f} s)" if "seconds_warm" in r else ""
            print(
                f"  {r['counties']:>4} counties {r['needs']:>8} needs {r['units']:>7} units: "
                f"{r['seconds']:8.2f} s{warm} {r['peak_rss_mib']:7.0f} MiB, {r['blocks']} blocks, "
                f"largest {big.get('needs')} needs x {big.get('units')} units "
                f"({big.get('path')}, {big.get('seconds')} s)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="county,quality,exact,growth")
    parser.add_argument("--needs", type=int, default=50_000)
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--counties", default="1,10,100", help="growth sizes (counties)")
    parser.add_argument("--growth-workers", type=int, default=2)
    parser.add_argument("--growth-parallel", default="processes", choices=["threads", "processes"])
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--parallel", default="threads", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path = args.child
        print(json.dumps(measure(kind, Path(path), args.workers, args.parallel)))
        return
    args.counties = [int(n) for n in args.counties.split(",")]
    cases = {
        "county": case_county,
        "quality": case_quality,
        "exact": case_exact,
        "growth": case_growth,
    }
    RESULTS.mkdir(exist_ok=True)
    output = RESULTS / "matching.json"
    report: dict[str, Any] = json.loads(output.read_text()) if output.exists() else {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.cases.split(","):
            load_before = os.getloadavg()
            report[name] = cases[name](args, Path(folder))
            report.setdefault("machine", {})[name] = {
                "cpus": os.cpu_count(),
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
                "python": sys.version.split()[0],
                "numpy": np.__version__,
                "scipy": scipy.__version__,
            }
            output.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print_report(report)


if __name__ == "__main__":
    main()

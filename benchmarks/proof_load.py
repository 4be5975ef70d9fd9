"""Load: a mixed workload at the highest rate the machine sustains with p99 under 200 ms.

``python -m benchmarks.proof_load [--hold 300 --step 30 --needs 50000]`` (``make proof``).
uvicorn (two workers) serves a private PostgreSQL cluster seeded with Dongkou county: its 364
real villages, ``--needs`` needs (70% published) of ``--needs``/2 households, 100 donors and a
county admin. This process drives it over loopback at an open-loop arrival rate (requests leave
on schedule whether or not earlier ones came back, and latency counts from the schedule):

- 80% browse and read: browse needs (newest, urgent, deadline, by township, village or
  category), read one need, one's own pairings, a region, the admin's households;
- 15% claims and deliveries: a donor claims a published need, later delivers it;
- 5% admin writes: confirm a delivery, register a household, post a need for it.

The rate climbs by ``--factor`` every ``--step`` seconds while p99 stays under ``--p99`` ms with
no errors, then from the last rate that passed again by ``--fine-factor`` every ``--fine-step``
seconds (a queue that grows slowly shows only in a longer step); the last rate that passed is
then held for ``--hold`` seconds, and should it not hold, a rate one fine step lower (at most
``--backoffs`` times): the rate that held is the one reported. Finally each of browse
(GET /api/v1/needs) and a bare endpoint on the same stack, GET /api/v1/me (the token checked,
one primary-key query), is driven alone by ``--concurrency`` closed-loop clients for
``--saturate`` seconds, and the ratio of their throughputs is reported.

Donors here hold many claims at once and claim often, as large donor organisations do: the
open-claim limit and the claim rate limit are raised in the server's environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import deque
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, text

from app.core.db import make_engine
from app.core.settings import Settings
from app.core.vocabulary import CATEGORIES
from app.households.models import Household
from app.needs.models import Need
from benchmarks import proof_common as proof
from benchmarks.browse import seed
from benchmarks.workload import dongkou_villages

SERVER_ENV = {
    "AIXIN_MAX_OPEN_CLAIMS": "1000",
    "AIXIN_CLAIMS_PER_DONOR": "10000",
    "AIXIN_EXPIRY_INTERVAL_SECONDS": "60",
}
DONORS = 100
MIX = {  # percent of arrivals
    "browse": 45,
    "read_need": 20,
    "my_pairings": 5,
    "region": 5,
    "households": 5,
    "claim": 7.5,
    "deliver": 7.5,
    "confirm": 3,
    "register_household": 1,
    "post_need": 1,
}


async def seed_county(settings: Settings, needs: int) -> list[int]:
    """Households and needs of Dongkou in bulk; the published needs' ids."""
    engine = make_engine(settings)
    try:
        await seed(engine, needs, random.Random(7))
        async with engine.begin() as connection:
            # The seed numbers households itself: move the sequence past them for the API.
            await connection.execute(
                text("SELECT setval(pg_get_serial_sequence('households', 'id'), :n)"),
                {"n": await connection.scalar(select(func.max(Household.id)))},
            )
            published = await connection.scalars(
                select(Need.id).where(Need.status == "published").order_by(Need.id)
            )
            return list(published)
    finally:
        await engine.dispose()


class Workload:
    """The mix of requests, and the state that keeps claims, deliveries and confirmations valid.

    Each claim takes a published need no one else is claiming, so a 409 would be a fault of the
    service, not of the workload: every non-2xx response counts as an error.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        people: proof.People,
        published: list[int],
        rng: random.Random,
    ) -> None:
        self.http, self.people, self.rng = http, people, rng
        rng.shuffle(published)
        self.unclaimed = published  # claims take from the end, reads from the start
        self.claimed: deque[tuple[dict[str, str], int]] = deque()
        self.delivered: deque[int] = deque()
        self.bare_households: deque[int] = deque()
        self.villages = list(dongkou_villages())
        self.townships = sorted({code[:9] for code in self.villages})
        kinds = list(MIX)
        self.weights = [MIX[kind] for kind in kinds]
        self.fires: list[tuple[str, proof.Fire]] = [(kind, getattr(self, kind)) for kind in kinds]

    def choose(self) -> tuple[str, proof.Fire]:
        """The next request, drawn from the mix."""
        return self.rng.choices(self.fires, self.weights)[0]

    def donor(self) -> dict[str, str]:
        return self.rng.choice(self.people.donors)

    async def browse(self, _: proof.Sample) -> httpx.Response:
        choice = self.rng.randrange(6)
        params: dict[str, Any] = [
            {},
            {"sort": "urgent"},
            {"sort": "deadline"},
            {"region": self.rng.choice(self.townships)},
            {"region": self.rng.choice(self.villages)},
            {"category": self.rng.choice(CATEGORIES), "region": self.rng.choice(self.townships)},
        ][choice]
        return await self.http.get("/api/v1/needs", params=params, headers=self.donor())

    async def read_need(self, _: proof.Sample) -> httpx.Response:
        # From the half that claims reach last, so the need is still published when read.
        need = self.unclaimed[self.rng.randrange(len(self.unclaimed) // 2)]
        return await self.http.get(f"/api/v1/needs/{need}", headers=self.donor())

    async def my_pairings(self, _: proof.Sample) -> httpx.Response:
        return await self.http.get("/api/v1/pairings", headers=self.donor())

    async def region(self, _: proof.Sample) -> httpx.Response:
        return await self.http.get(f"/api/v1/regions/{self.rng.choice(self.townships)}")

    async def households(self, _: proof.Sample) -> httpx.Response:
        params = {"village": self.rng.choice(self.villages)}
        return await self.http.get("/api/v1/households", params=params, headers=self.people.admin)

    async def claim(self, sample: proof.Sample) -> httpx.Response:
        donor, need = self.donor(), self.unclaimed.pop()
        response = await self.http.post(f"/api/v1/needs/{need}/claim", headers=donor)
        if response.status_code == 201:
            self.claimed.append((donor, need))
        return response

    async def deliver(self, sample: proof.Sample) -> httpx.Response:
        if not self.claimed:
            sample.kind = "claim"
            return await self.claim(sample)
        donor, need = self.claimed.popleft()
        body = {"note": "已送到村委会"}
        response = await self.http.post(f"/api/v1/needs/{need}/deliver", json=body, headers=donor)
        if response.status_code == 200:
            self.delivered.append(need)
        return response

    async def confirm(self, sample: proof.Sample) -> httpx.Response:
        if not self.delivered:
            sample.kind = "register_household"
            return await self.register_household(sample)
        need = self.delivered.popleft()
        body = {"thanks": "感谢爱心人士"}
        path = f"/api/v1/needs/{need}/confirm"
        return await self.http.post(path, json=body, headers=self.people.admin)

    async def register_household(self, _: proof.Sample) -> httpx.Response:
        body = proof.household_body(self.rng.choice(self.villages))
        response = await self.http.post("/api/v1/households", json=body, headers=self.people.admin)
        if response.status_code == 201:
            self.bare_households.append(response.json()["id"])
        return response

    async def post_need(self, sample: proof.Sample) -> httpx.Response:
        if not self.bare_households:
            sample.kind = "register_household"
            return await self.register_household(sample)
        body = {
            "household_id": self.bare_households.popleft(),
            "category": self.rng.choice(CATEGORIES),
            "title": "春耕化肥",
            "description": "家里缺春耕用的化肥两袋",
            "value_fen": 30_000,
            "deadline": "2099-06-30",
        }
        return await self.http.post("/api/v1/needs", json=body, headers=self.people.admin)


def summarise(samples: list[proof.Sample], seconds: float) -> dict[str, Any]:
    """The whole step's figures, and each kind's."""
    kinds = sorted({sample.kind for sample in samples})
    return {
        **asdict(proof.Summary.of(samples, seconds)),
        "kinds": {
            kind: asdict(proof.Summary.of([s for s in samples if s.kind == kind], seconds))
            for kind in kinds
        },
        "error_sample": [asdict(s) for s in samples if not 200 <= s.status < 300][:5],
    }


def sustained(step: dict[str, Any], p99_ms: float) -> bool:
    return bool(step["errors"] == 0 and step["p99_ms"] < p99_ms)


async def step_at(
    workload: Workload, rate: float, seconds: float, args: argparse.Namespace
) -> dict[str, Any]:
    """``rate`` for ``seconds``, summarised."""
    await proof.sign_in_again(workload.http, workload.people)
    step = summarise(await proof.open_loop(rate, seconds, workload.choose), seconds)
    step["rate"], step["seconds"] = rate, seconds
    print(
        f"  {rate:7.1f}/s for {seconds:.0f} s  p99 {step['p99_ms']:7.1f} ms  "
        f"errors {step['errors']}",
        flush=True,
    )
    return step


async def climb(
    workload: Workload,
    args: argparse.Namespace,
    steps: list[dict[str, Any]],
    rate: float,
    factor: float,
    seconds: float,
) -> float:
    """Climb from ``rate`` by ``factor`` a step of ``seconds`` until a step fails; the last
    rate that passed (0 if none). Each step is appended to ``steps``."""
    best = 0.0
    while rate <= args.max_rate:
        steps.append(await step_at(workload, rate, seconds, args))
        if not sustained(steps[-1], args.p99):
            break
        best, rate = rate, round(rate * factor, 1)
    return best


async def ramp(workload: Workload, args: argparse.Namespace) -> tuple[float, list[dict[str, Any]]]:
    """Find the best rate: a coarse climb (``--factor`` every ``--step`` seconds), then a fine
    one from its last rate that passed (``--fine-factor`` every ``--fine-step`` seconds: a queue
    that grows slowly shows only in a longer step); the best rate that passed (0 if none)."""
    steps: list[dict[str, Any]] = []
    best = await climb(workload, args, steps, args.start_rate, args.factor, args.step)
    if best:
        start = round(best * args.fine_factor, 1)
        finer = await climb(workload, args, steps, start, args.fine_factor, args.fine_step)
        best = finer or best
    return best, steps


async def hold_best(
    workload: Workload, args: argparse.Namespace, best: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Hold ``best`` for ``--hold`` seconds; should it not hold, back off by ``--fine-factor``
    and hold again, up to ``--backoffs`` times. The last hold, and those that failed."""
    failed: list[dict[str, Any]] = []
    rate = best
    while True:
        print(f"hold at {rate}/s for {args.hold:.0f} s …", flush=True)
        await proof.sign_in_again(workload.http, workload.people)
        samples = await proof.open_loop(rate, args.hold, workload.choose) if rate else []
        hold = {"rate": rate, **summarise(samples, args.hold)}
        hold["sustained"] = bool(rate) and sustained(hold, args.p99)
        print(f"  p99 {hold['p99_ms']:.1f} ms, errors {hold['errors']}", flush=True)
        if hold["sustained"] or not rate or len(failed) >= args.backoffs:
            return hold, failed
        failed.append({k: v for k, v in hold.items() if k != "kinds"})
        rate = round(rate / args.fine_factor, 1)


async def closed_loop(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], clients: int, seconds: float
) -> dict[str, Any]:
    """``clients`` loops each sending the next request when the last one is answered."""
    samples: list[proof.Sample] = []
    deadline = time.monotonic() + seconds

    async def loop() -> None:
        while time.monotonic() < deadline:
            sample = proof.Sample(path, time.monotonic())
            response = await http.get(path, headers=headers)
            sample.done, sample.status = time.monotonic(), response.status_code
            samples.append(sample)

    await asyncio.gather(*(loop() for _ in range(clients)))
    return asdict(proof.Summary.of(samples, seconds))


async def throughput_ratio(
    http: httpx.AsyncClient, people: proof.People, args: argparse.Namespace
) -> dict[str, Any]:
    """Browse against the bare endpoint, each alone at saturation, one after the other."""
    await proof.sign_in_again(http, people)
    donor = people.donors[0]
    browse = await closed_loop(http, "/api/v1/needs", donor, args.concurrency, args.saturate)
    bare = await closed_loop(http, "/api/v1/me", donor, args.concurrency, args.saturate)
    return {
        "clients": args.concurrency,
        "seconds": args.saturate,
        "browse": browse,
        "bare_me": bare,
        "browse_to_bare": round(browse["rps"] / bare["rps"], 3) if bare["rps"] else None,
    }


async def prove(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    with proof.private_postgres() as cluster:
        settings = proof.prepare_database(cluster, workdir)
        published = await seed_county(settings, args.needs)
        with proof.serve(settings, workdir / "server.log", SERVER_ENV) as base_url:
            async with proof.client(base_url, connections=args.connections) as http:
                people = await proof.make_people(http, settings, donors=DONORS)
                workload = Workload(http, people, published, random.Random(11))
                print("ramp:", flush=True)
                best, steps = await ramp(workload, args)
                hold, failed_holds = await hold_best(workload, args, best)
                ratio = await throughput_ratio(http, people, args)
    return {
        "needs": args.needs,
        "published": len(published),
        "donors": DONORS,
        "mix_percent": MIX,
        "p99_target_ms": args.p99,
        "ramp": steps,
        "failed_holds": failed_holds,
        "hold": hold,
        "throughput": ratio,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, default=50_000)
    parser.add_argument("--hold", type=float, default=300, help="seconds at the best rate")
    parser.add_argument("--step", type=float, default=30, help="seconds per ramp step")
    parser.add_argument("--start-rate", type=float, default=10, help="first step, requests/s")
    parser.add_argument("--factor", type=float, default=1.5, help="rate growth per step")
    parser.add_argument("--fine-factor", type=float, default=1.15, help="… per fine step")
    parser.add_argument("--fine-step", type=float, default=60, help="seconds per fine step")
    parser.add_argument("--backoffs", type=int, default=2, help="lower holds after a failed one")
    parser.add_argument("--max-rate", type=float, default=5000)
    parser.add_argument("--p99", type=float, default=200, help="the p99 target, ms")
    parser.add_argument("--connections", type=int, default=200, help="client connections")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop clients")
    parser.add_argument("--saturate", type=float, default=20, help="seconds per saturation run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = asyncio.run(prove(args, Path(workdir)))
        proof.write_result("proof_load", result, Path(workdir) / "server.log")
    hold, ratio = result["hold"], result["throughput"]
    print(json.dumps({k: v for k, v in hold.items() if k != "kinds"}, indent=2))
    print(f"browse / bare throughput: {ratio['browse_to_bare']}")
    sys.exit(0 if hold["sustained"] and ratio["browse_to_bare"] else 1)


if __name__ == "__main__":
    main()

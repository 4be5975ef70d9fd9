"""Database outage: stop PostgreSQL under steady load for 30 s, start it again, and check.

``python -m benchmarks.proof_outage [--rate 40 --warm 20 --outage 30 --after 30]`` (``make
proof``). uvicorn (two workers) serves a private PostgreSQL cluster while requests arrive at a
steady rate: half writes (households by the county admin, offers by donors, these with an
Idempotency-Key), half reads (browse, one's own account, a region). The database is stopped with
``pg_ctl stop -m fast`` (open sessions are cut) and started again; uvicorn is never restarted.

With ``--mode freeze`` the server's processes are suspended instead (SIGSTOP, then SIGCONT):
its connections stay open and nothing answers, as when its machine hangs or the network drops
packets. Only the service's own timeouts (connect, statement, pool) bound the wait then.

Checked, each a line of the verdict:
- every request sent while the database is down gets 503 problem details with Retry-After
  (frozen: that, or a success once the freeze ends), within the timeout (``--timeout``); no
  request anywhere gets another 5xx or goes unanswered;
- after the start, every request succeeds again within ``--recovery`` seconds (5);
- every write the service acknowledged (201 and its id) is in the database afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from app.core.db import Database
from app.core.errors import PROBLEM_MEDIA_TYPE
from app.core.settings import Settings
from app.households.models import Household
from app.offers.models import Offer
from benchmarks import proof_common as proof
from benchmarks.workload import dongkou_villages

# The background loop (lapsing claims, re-learning) keeps running through the outage too.
SERVER_ENV = {"AIXIN_EXPIRY_INTERVAL_SECONDS": "2", "AIXIN_MODEL_REFRESH_SECONDS": "10"}


@dataclass
class Moments:
    """When the database was stopped and started (monotonic seconds)."""

    stop_begin: float = 0.0
    stop_done: float = 0.0
    start_begin: float = 0.0
    start_done: float = 0.0


def traffic(people: proof.People, http: httpx.AsyncClient, rng: random.Random) -> Any:
    """The request chooser: half writes, half reads, spread over the people."""
    villages = list(dongkou_villages())

    async def household(_: proof.Sample) -> httpx.Response:
        body = proof.household_body(rng.choice(villages))
        return await http.post("/api/v1/households", json=body, headers=people.admin)

    async def offer(_: proof.Sample) -> httpx.Response:
        body = {"category": "goods", "title": "冬衣", "description": "棉衣十件", "capacity": 2}
        key = {"Idempotency-Key": str(uuid.uuid4())}
        return await http.post("/api/v1/offers", json=body, headers=rng.choice(people.donors) | key)

    async def browse(_: proof.Sample) -> httpx.Response:
        return await http.get("/api/v1/needs", headers=rng.choice(people.donors))

    async def me(_: proof.Sample) -> httpx.Response:
        return await http.get("/api/v1/me", headers=rng.choice(people.donors))

    async def region(_: proof.Sample) -> httpx.Response:
        return await http.get(f"/api/v1/regions/{rng.choice(villages)}")

    mix: list[tuple[str, proof.Fire]] = [
        ("household", household),
        ("offer", offer),
        ("browse", browse),
        ("me", me),
        ("region", region),
    ]
    weights = [25, 25, 25, 15, 10]
    return lambda: rng.choices(mix, weights)[0]


async def outage(
    cluster: proof.PrivatePostgres, moments: Moments, args: argparse.Namespace
) -> None:
    """Stop (or freeze) the database after ``--warm`` seconds, start (or thaw) it ``--outage``
    seconds later."""
    actions = {"stop": (cluster.stop, cluster.start), "freeze": (cluster.freeze, cluster.thaw)}
    stop, start = actions[args.mode]
    await asyncio.sleep(args.warm)
    moments.stop_begin = time.monotonic()
    await asyncio.to_thread(stop)
    moments.stop_done = time.monotonic()
    await asyncio.sleep(args.outage)
    moments.start_begin = time.monotonic()
    await asyncio.to_thread(start)
    moments.start_done = time.monotonic()


def well_formed_503(sample: proof.Sample) -> bool:
    return (
        sample.status == 503
        and sample.content_type == PROBLEM_MEDIA_TYPE
        and sample.retry_after is not None
    )


def answered(sample: proof.Sample) -> bool:
    return 200 <= sample.status < 300 or well_formed_503(sample)


# A stopped server refuses at once, so every request meets a 503; a frozen one holds its open
# connections, so a request may also wait out the freeze and succeed (within the timeout).
EXPECTED_WHILE_DOWN = {
    "stop": ("503 problem + Retry-After", well_formed_503),
    "freeze": ("2xx, or 503 problem + Retry-After", answered),
}


def verdict(
    samples: Sequence[proof.Sample], moments: Moments, args: argparse.Namespace
) -> dict[str, Any]:
    """The checks of the outage, each with what was seen."""
    expected, meets = EXPECTED_WHILE_DOWN[args.mode]
    down = [s for s in samples if moments.stop_done <= s.due < moments.start_begin]
    after = [s for s in samples if s.due >= moments.start_done]
    failed_after = [s.due for s in after if not 200 <= s.status < 300]
    recovery = max(failed_after, default=moments.start_done) - moments.start_done
    bad = [s for s in samples if not answered(s)]
    return {
        "requests_while_down": len(down),
        "expected_while_down": expected,
        "all_as_expected_while_down": all(meets(s) for s in down),
        "slowest_while_down_ms": round(max((s.latency_ms for s in down), default=0.0), 1),
        "none_slower_than_timeout": all(s.latency_ms <= args.timeout * 1000 for s in samples),
        "other_failures": len(bad),
        "other_failures_sample": [asdict(s) for s in bad[:5]],
        "recovery_seconds": round(recovery, 2),
        "p99_after_start_ms": round(proof.percentile([s.latency_ms for s in after], 99), 1),
        "recovered_in_time": recovery <= args.recovery,
        "first_success_after_start_s": round(
            min((s.done for s in after if 200 <= s.status < 300), default=float("nan"))
            - moments.start_done,
            2,
        ),
    }


async def stored_ids(settings: Settings) -> dict[str, set[int]]:
    """The ids of the households and offers in the database."""
    database = Database(settings)
    try:
        async with database.sessionmaker() as session:
            households = set(await session.scalars(select(Household.id)))
            offers = set(await session.scalars(select(Offer.id)))
    finally:
        await database.dispose()
    return {"household": households, "offer": offers}


def durability(
    samples: Sequence[proof.Sample], stored: dict[str, set[int]], moments: Moments
) -> dict[str, Any]:
    """Every acknowledged write (201 with an id) checked against the tables."""
    acked = [s for s in samples if s.status == 201 and s.created_id is not None]
    missing = [s for s in acked if s.created_id not in stored[s.kind]]
    return {
        "acknowledged": len(acked),
        "acknowledged_before_stop": sum(1 for s in acked if s.done < moments.stop_begin),
        "missing": len(missing),
        "missing_sample": [asdict(s) for s in missing[:5]],
        "all_acknowledged_writes_stored": not missing,
    }


async def prove(
    args: argparse.Namespace, cluster: proof.PrivatePostgres, workdir: Path
) -> dict[str, Any]:
    settings = proof.prepare_database(cluster, workdir)
    env = SERVER_ENV | {
        "AIXIN_DB_CONNECT_TIMEOUT_SECONDS": str(args.connect_timeout),
        "AIXIN_DB_COMMAND_TIMEOUT_SECONDS": str(args.command_timeout),
    }
    with proof.serve(settings, workdir / "server.log", env) as base_url:
        async with proof.client(base_url) as http:
            people = await proof.make_people(http, settings, donors=20)
            moments = Moments()
            seconds = args.warm + args.outage + args.after
            controller = asyncio.create_task(outage(cluster, moments, args))
            http.timeout = httpx.Timeout(args.timeout)
            samples = await proof.open_loop(
                args.rate, seconds, traffic(people, http, random.Random(1))
            )
            await controller
    result = {
        "mode": args.mode,
        "rate": args.rate,
        "service_timeouts_s": {"connect": args.connect_timeout, "command": args.command_timeout},
        "seconds": {"warm": args.warm, "outage": args.outage, "after": args.after},
        "timeout_s": args.timeout,
        "stop_took_s": round(moments.stop_done - moments.stop_begin, 2),
        "start_took_s": round(moments.start_done - moments.start_begin, 2),
        "overall": asdict(proof.Summary.of(samples, seconds)),
        "outage": verdict(samples, moments, args),
        "durability": durability(samples, await stored_ids(settings), moments),
        "timeline": timeline(samples, moments),
    }
    result["passed"] = passed(result)
    return result


def timeline(samples: Sequence[proof.Sample], moments: Moments) -> list[dict[str, Any]]:
    """Outcomes per second since the start of the load, for the record."""
    origin = min(s.due for s in samples)
    rows = []
    for second, group in itertools.groupby(
        sorted(samples, key=lambda s: s.due), key=lambda s: int(s.due - origin)
    ):
        statuses: dict[str, int] = {}
        for sample in group:
            statuses[str(sample.status)] = statuses.get(str(sample.status), 0) + 1
        rows.append({"second": second, **statuses})
    return rows


def passed(result: dict[str, Any]) -> bool:
    outage, stored = result["outage"], result["durability"]
    return bool(
        outage["requests_while_down"]
        and outage["all_as_expected_while_down"]
        and outage["none_slower_than_timeout"]
        and outage["other_failures"] == 0
        and outage["recovered_in_time"]
        and stored["acknowledged_before_stop"]
        and stored["all_acknowledged_writes_stored"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=40, help="requests per second")
    parser.add_argument("--warm", type=float, default=20, help="seconds of load before the stop")
    parser.add_argument("--outage", type=float, default=30, help="seconds the database is down")
    parser.add_argument("--after", type=float, default=30, help="seconds of load after the start")
    parser.add_argument("--timeout", type=float, default=10, help="the longest a request may take")
    parser.add_argument("--recovery", type=float, default=5, help="seconds allowed to recover")
    parser.add_argument(
        "--mode", choices=["stop", "freeze"], default="stop", help="stop the server, or suspend it"
    )
    parser.add_argument("--connect-timeout", type=float, default=5, help="the service's setting")
    parser.add_argument("--command-timeout", type=float, default=5, help="the service's setting")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, proof.private_postgres() as cluster:
        result = asyncio.run(prove(args, cluster, Path(workdir)))
        name = "proof_outage" if args.mode == "stop" else "proof_outage_freeze"
        proof.write_result(name, result, Path(workdir) / "server.log")
    print(json.dumps({k: v for k, v in result.items() if k != "timeline"}, indent=2))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()

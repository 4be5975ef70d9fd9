"""The hot path beside a bare service: Aixin and the minimal service, side by side, under wrk.

``python -m benchmarks.hot_path [--seconds 15 --runs 3 --connections 16]`` (``make bench``).

One private database on the PostgreSQL at 127.0.0.1:5432 (created, migrated, dropped after)
serves both: Aixin (``app.main:create_app``) and ``benchmarks/minimal_service.py`` (FastAPI,
one asyncpg pool, pyjwt; no ORM, no middleware, no guarantees), each under uvicorn with two
workers. The data is made through Aixin's API: a county admin of Dongkou, 300 households and
300 published needs, and donors. Then each request type is driven by wrk with ``--connections``
keep-alive connections for ``--seconds`` seconds, Aixin and the minimal service in turn (the
order alternates between runs), after a warm-up of each:

- ``GET /me``: the token checked, the caller's account read;
- browse: the first page of the 20 newest published needs (joined with household and village);
- browse deep: a page far down, reached by its cursor;
- one need: ``GET /needs/{id}``;
- claim + release: a donor claims a published need and gives it back, on one connection each,
  every request with its own ``Idempotency-Key`` (the write path as a retrying client uses it).

The table gives requests per second and p99 latency for both, and the ratio of throughputs;
each figure is the median over ``--runs`` runs. Aixin logs at INFO (one access line a request,
as in production) into a file; the minimal service logs nothing.

``--profile`` instead serves Aixin with one worker under pyinstrument, drives each request type
for ``--seconds``, and writes the profile of each (text) to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from app.core.settings import Settings
from app.core.vocabulary import CATEGORIES
from benchmarks import proof_common as proof
from benchmarks.browse import create_database, drop_database, settings_for
from benchmarks.workload import dongkou_villages
from tests.live import free_port, server_environment

RESULTS = Path(__file__).parent / "results"
API = "/api/v1"
NEEDS = 300
DONORS = 16
DEEP_PAGE = 10  # of 15 pages of 20
AIXIN_ENV = {
    "AIXIN_LOG_LEVEL": "INFO",
    # As the API replicas run in production: the worker (webhooks, reminders, scheduled jobs) is
    # its own process (`aixin worker`), not a task beside the requests.
    "AIXIN_WORKER_IN_PROCESS": "false",
    # Every claim still passes the limiter; the budget is wide enough not to refuse one.
    "AIXIN_CLAIMS_PER_DONOR": "10000",
    "AIXIN_CLAIM_WINDOW_SECONDS": "1",
    "AIXIN_MAX_OPEN_CLAIMS": "1000",
}
KINDS = ("healthz", "me", "browse", "browse_deep", "one_need", "claim_release")
LABELS = {
    "healthz": "GET /healthz (no token, no query)",
    "me": "GET /me",
    "browse": "browse, first page (20 of 300)",
    "browse_deep": f"browse, page {DEEP_PAGE + 1} by cursor",
    "one_need": "one need",
    "claim_release": "claim, then release (write)",
}


# -- wrk --------------------------------------------------------------------------------------


def find_wrk() -> tuple[str, str]:
    """wrk's path and how it came to be there: found, or installed from Debian as root."""
    found = shutil.which("wrk")
    if found:
        return found, "found on PATH"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's package (apt-get install -y wrk) …", flush=True)
        quiet = {"check": False, "capture_output": True}
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet)  # type: ignore[call-overload]
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-qq"], **quiet)  # type: ignore[call-overload]
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], **quiet)  # type: ignore[call-overload]
        found = shutil.which("wrk")
        if found:
            return found, "installed now with apt-get (Debian's wrk)"
    raise SystemExit(
        "wrk is needed: install Debian's package (apt-get install wrk) or put wrk on PATH; "
        "without root this benchmark cannot install it"
    )


_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, '
    .. '"non_2xx": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal here (ASCII)


def read_script(token: str) -> str:
    return f'wrk.headers["Authorization"] = {_lua("Bearer " + token)}\n' + _DONE


def write_script(prefix: str, pairs: list[tuple[int, str]], nonce: str) -> str:
    """Each thread (one connection) claims its own need, then releases it, and again."""
    needs = ", ".join(str(need_id) for need_id, _ in pairs)
    tokens = ", ".join(_lua("Bearer " + token) for _, token in pairs)
    return (
        f"""
local needs = {{{needs}}}
local tokens = {{{tokens}}}
local count = 0
setup = function(thread)
  count = count + 1
  thread:set("index", count)
end
local step = 0
request = function()
  step = step + 1
  local action = (step % 2 == 1) and "claim" or "release"
  local headers = {{
    ["Authorization"] = tokens[index],
    ["Idempotency-Key"] = "{nonce}-" .. index .. "-" .. step,
  }}
  return wrk.format("POST", "{prefix}/needs/" .. needs[index] .. "/" .. action, headers)
end
"""
        + _DONE
    )


def run_wrk(
    wrk: str, url: str, script: Path, *, seconds: float, connections: int, threads: int
) -> dict[str, Any]:
    """One wrk run; what its ``done`` reported, with requests per second."""
    command = [
        wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "5s",
        "-s", str(script), url,
    ]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["rps"] = round(result["requests"] / (result["duration_us"] / 1e6), 1)
    result["p99_ms"] = round(result["p99_us"] / 1000, 1)
    result["p50_ms"] = round(result["p50_us"] / 1000, 1)
    return result


# -- the two services ---------------------------------------------------------------------------


def _wait_healthy(base_url: str, process: subprocess.Popen[bytes], seconds: float) -> None:
    # A loaded machine may take half a minute to import the app in each worker.
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server at {base_url} did not start (see its log)")
        time.sleep(0.2)


@contextlib.contextmanager
def uvicorn_server(
    app: list[str], env: dict[str, str], log_path: Path, workers: int = 2
) -> Iterator[str]:
    """``app`` (uvicorn's arguments naming it) on a free loopback port; yields its base URL."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", *app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--no-access-log", "--log-level", "warning",
        # A worker busy on a loaded machine is slow to answer its supervisor's ping, not hung.
        "--timeout-worker-healthcheck", "120",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(base_url, process, 180)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def aixin_server(settings: Settings, log_path: Path) -> contextlib.AbstractContextManager[str]:
    """Aixin under uvicorn with two workers, logging at INFO."""
    env = server_environment(settings) | AIXIN_ENV
    return uvicorn_server(["app.main:create_app", "--factory"], env, log_path)


def minimal_server(settings: Settings, log_path: Path) -> contextlib.AbstractContextManager[str]:
    """The minimal service under uvicorn with two workers."""
    env = {
        **os.environ,
        "MINIMAL_DATABASE_URL": settings.database_url,
        "MINIMAL_SECRET_KEY": settings.secret("secret_key"),
    }
    return uvicorn_server(["benchmarks.minimal_service:app"], env, log_path)


def prepare(settings: Settings) -> None:
    """Migrate the database and load the regions, as an operator does."""
    for command in (["migrate"], ["regions", "load"]):
        subprocess.run(
            [proof.AIXIN, *command],
            env=server_environment(settings),
            check=True,
            capture_output=True,
        )


@dataclass
class Seeded:
    admin_token: str
    donor_tokens: list[str]
    need_ids: list[int]


async def seed(base_url: str, settings: Settings) -> Seeded:
    """A county admin, donors, and ``NEEDS`` published needs of as many households."""
    async with proof.client(base_url, connections=16) as http:
        return await seed_through(http, settings)


async def seed_through(http: httpx.AsyncClient, settings: Settings) -> Seeded:
    """:func:`seed` through the client ``http`` of Aixin's API."""
    villages = [str(code) for code in dongkou_villages()]
    if True:
        people = await proof.make_people(http, settings, donors=DONORS)
        gate = asyncio.Semaphore(16)

        async def post(index: int) -> int:
            async with gate:
                household = await http.post(
                    f"{API}/households",
                    json=proof.household_body(villages[index % len(villages)]),
                    headers=people.admin,
                )
                household.raise_for_status()
                need = {
                    "household_id": household.json()["id"],
                    "category": CATEGORIES[index % len(CATEGORIES)],
                    "title": f"冬季棉被两床 {index}",
                    "description": "家中老人过冬需要厚棉被两床，尺寸一米五。",
                    "value_fen": 30000 + index,
                    "urgency": 1 + index % 3,
                    "deadline": "2030-12-31",
                }
                posted = await http.post(f"{API}/needs", json=need, headers=people.admin)
                posted.raise_for_status()
                return int(posted.json()["id"])

        need_ids = [await post(index) for index in range(1)]
        need_ids += await asyncio.gather(*(post(index) for index in range(1, NEEDS)))
    token = people.admin["Authorization"].split(" ", 1)[1]
    return Seeded(token, [h["Authorization"].split(" ", 1)[1] for h in people.donors], need_ids)


async def fresh_tokens(base_url: str) -> list[str]:
    """New access tokens for the donors (they live 15 minutes at most)."""
    async with proof.client(base_url, connections=4) as http:
        return [
            (await proof.sign_in(http, f"proof-donor-{index}"))["Authorization"].split(" ", 1)[1]
            for index in range(DONORS)
        ]


def deep_cursor(base_url: str, path: str, token: str) -> str:
    """The cursor of page ``DEEP_PAGE + 1``, found by walking the pages."""
    cursor = None
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(DEEP_PAGE):
        params = {"limit": 20, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{base_url}{path}", params=params, headers=headers, timeout=10)
        page.raise_for_status()
        cursor = page.json()["next_cursor"]
        assert cursor, "fewer pages than expected"
    return str(cursor)


def settle(base_url: str, prefix: str, pairs: list[tuple[int, str]]) -> None:
    """Give back every need a write run left claimed (a run may stop between its two steps)."""
    for need_id, token in pairs:
        httpx.post(
            f"{base_url}{prefix}/needs/{need_id}/release",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )


# -- a run ---------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    base_url: str
    prefix: str  # where the API's paths start
    pairs: list[tuple[int, str]]  # (need, donor token) per connection, for the write path

    def urls(self, deep: str, one_need: int) -> dict[str, str]:
        from urllib.parse import quote

        base = self.base_url + self.prefix
        return {
            "healthz": f"{self.base_url}/healthz",
            "me": f"{base}/me",
            "browse": f"{base}/needs?limit=20",
            "browse_deep": f"{base}/needs?limit=20&cursor={quote(deep)}",
            "one_need": f"{base}/needs/{one_need}",
        }


def drive(
    wrk: str,
    target: Target,
    kind: str,
    workdir: Path,
    token: str,
    deep: str,
    one_need: int,
    args: argparse.Namespace,
    seconds: float,
) -> dict[str, Any]:
    """One request type against one service for ``seconds``."""
    script = workdir / f"{target.name}-{kind}.lua"
    if kind == "claim_release":
        nonce = f"{target.name}-{time.time_ns()}"
        script.write_text(write_script(target.prefix, target.pairs, nonce))
        url = f"{target.base_url}/"
        threads = len(target.pairs)
    else:
        script.write_text(read_script(token))
        url = target.urls(deep, one_need)[kind]
        threads = 2
    try:
        return run_wrk(
            wrk, url, script, seconds=seconds, connections=args.connections, threads=threads
        )
    finally:
        if kind == "claim_release":
            settle(target.base_url, target.prefix, target.pairs)


def median_row(runs: list[dict[str, Any]], name: str, kind: str) -> dict[str, float]:
    rows = [run[kind][name] for run in runs]
    return {
        "rps": round(statistics.median(row["rps"] for row in rows), 1),
        "p99_ms": round(statistics.median(row["p99_ms"] for row in rows), 1),
        "non_2xx": sum(row["non_2xx"] for row in rows),
        "socket_errors": sum(row["socket_errors"] for row in rows),
    }


def table(runs: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    lines = [
        "| request | Aixin | minimal service | ratio |",
        "|---|---|---|---|",
    ]
    summary: dict[str, Any] = {}
    for kind in KINDS:
        aixin, minimal = median_row(runs, "aixin", kind), median_row(runs, "minimal", kind)
        ratios = [run[kind]["aixin"]["rps"] / run[kind]["minimal"]["rps"] for run in runs]
        ratio = round(statistics.median(ratios), 2)
        summary[kind] = {"aixin": aixin, "minimal": minimal, "ratio": ratio}
        lines.append(
            f"| {LABELS[kind]} | {aixin['rps']:,.0f} req/s, p99 {aixin['p99_ms']:g} ms "
            f"| {minimal['rps']:,.0f} req/s, p99 {minimal['p99_ms']:g} ms | {ratio:.2f} |"
        )
    return "\n".join(lines), summary


def compare(args: argparse.Namespace, wrk: str, how: str, workdir: Path) -> dict[str, Any]:
    url, database = asyncio.run(create_database("postgresql", workdir))
    assert database is not None
    try:
        settings = settings_for(url, workdir)
        prepare(settings)
        with (
            aixin_server(settings, workdir / "aixin.log") as aixin_url,
            minimal_server(settings, workdir / "minimal.log") as minimal_url,
        ):
            print(f"seeding {NEEDS} needs through the API …", flush=True)
            seeded = asyncio.run(seed(aixin_url, settings))
            one_need = seeded.need_ids[-1]
            # Each service claims needs of its own, so the two never meet on a row.
            writes = {
                "aixin": seeded.need_ids[:DONORS],
                "minimal": seeded.need_ids[DONORS:][:DONORS],
            }
            runs: list[dict[str, Any]] = []
            for run in range(args.runs):
                tokens = asyncio.run(fresh_tokens(aixin_url))
                pairs = {name: list(zip(ids, tokens, strict=True)) for name, ids in writes.items()}
                targets = [
                    Target("aixin", aixin_url, API, pairs["aixin"]),
                    Target("minimal", minimal_url, "", pairs["minimal"]),
                ]
                if run % 2:
                    targets.reverse()
                deep = {
                    "aixin": deep_cursor(aixin_url, f"{API}/needs", tokens[0]),
                    "minimal": deep_cursor(minimal_url, "/needs", tokens[0]),
                }
                if run == 0:
                    print(f"warming up ({args.warmup:g} s a request type and service) …")
                    for kind in KINDS:
                        for target in targets:
                            drive(
                                wrk, target, kind, workdir, tokens[0], deep[target.name],
                                one_need, args, args.warmup,
                            )  # fmt: skip
                load = os.getloadavg()[0]
                results: dict[str, Any] = {"load_average_before": round(load, 2)}
                for kind in KINDS:
                    results[kind] = {}
                    for target in targets:
                        results[kind][target.name] = drive(
                            wrk, target, kind, workdir, tokens[0], deep[target.name], one_need,
                            args, args.seconds,
                        )  # fmt: skip
                    a, m = results[kind]["aixin"], results[kind]["minimal"]
                    print(
                        f"run {run + 1} {kind:14} aixin {a['rps']:8.1f}/s p99 {a['p99_ms']:6.1f} ms"
                        f" | minimal {m['rps']:8.1f}/s p99 {m['p99_ms']:6.1f} ms"
                        f" | {a['rps'] / m['rps']:.2f}  (non-2xx {a['non_2xx']}/{m['non_2xx']})",
                        flush=True,
                    )
                runs.append(results)
    finally:
        keep_logs(args, workdir)
        asyncio.run(drop_database(database))
    text, summary = table(runs)
    print(f"\nmedians of {args.runs} runs, {args.seconds:g} s each, {args.connections} connections")
    print(text)
    return {
        "wrk": how,
        "seconds": args.seconds,
        "connections": args.connections,
        "runs": runs,
        "medians": summary,
        "table": text,
        "cpus": os.cpu_count(),
    }


def keep_logs(args: argparse.Namespace, workdir: Path) -> None:
    """Copy the servers' logs to benchmarks/results/ when asked to."""
    if args.keep_logs:
        RESULTS.mkdir(exist_ok=True)
        for log in workdir.glob("*.log"):
            shutil.copy(log, RESULTS / f"hot_path_{log.name}")


# -- the profile ---------------------------------------------------------------------------------


def _scope(method: str, url: str, token: str, key: str | None) -> dict[str, Any]:
    path, _, query = url.partition("?")
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode())]
    if key is not None:
        headers.append((b"idempotency-key", key.encode()))
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "headers": headers, "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }  # fmt: skip


async def asgi_request(
    app: Any, method: str, url: str, token: str, key: str | None = None
) -> tuple[int, bytes]:
    """One request through ``app``'s ASGI interface, in this process; status and body."""
    sent = False
    status, body = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client never leaves
        sent = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await app(_scope(method, url, token, key), receive, send)
    return status, b"".join(body)


async def in_process(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Both apps in this process, one request at a time: CPU milliseconds a request.

    CPU time of this process (``time.process_time``) counts the app's own work and not the
    database's, and it hardly moves when other programs share the cores, so it measures a
    change to the hot path where wall-clock throughput on a busy machine cannot.
    """
    import logging

    from app.main import create_app
    from benchmarks import minimal_service

    url, database = await create_database("postgresql", workdir)
    assert database is not None
    try:
        settings = settings_for(url, workdir)
        prepare(settings)
        settings = settings.model_copy(update={"log_level": "INFO", **_limits()})
        aixin = create_app(settings)
        # The access log is written as in production, to a file instead of the terminal.
        log_file = (workdir / "in-process.log").open("w")
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(log_file)
        print("seeding in process …", flush=True)
        transport = httpx.ASGITransport(app=aixin)
        async with httpx.AsyncClient(transport=transport, base_url="http://aixin") as http:
            seeded = await seed_through(http, settings)
        os.environ["MINIMAL_DATABASE_URL"] = settings.database_url
        os.environ["MINIMAL_SECRET_KEY"] = settings.secret("secret_key")
        minimal = minimal_service.app
        async with minimal_service.lifespan(minimal):
            return await _measure_in_process(args, aixin, minimal, seeded)
    finally:
        await aixin.state.database.dispose()
        await drop_database(database)


def _limits() -> dict[str, int]:
    return {
        key.removeprefix("AIXIN_").lower(): int(value)
        for key, value in AIXIN_ENV.items()
        if value.isdigit()
    }


async def _deep_in_process(app: Any, path: str, token: str) -> str:
    cursor = ""
    for _ in range(DEEP_PAGE):
        query = "limit=20" + (f"&cursor={cursor}" if cursor else "")
        status, body = await asgi_request(app, "GET", f"{path}?{query}", token)
        assert status == 200, body
        cursor = json.loads(body)["next_cursor"]
    return cursor


async def _measure_in_process(
    args: argparse.Namespace, aixin: Any, minimal: Any, seeded: Seeded
) -> dict[str, Any]:
    from urllib.parse import quote

    token = seeded.donor_tokens[0]
    need_ids = {"aixin": seeded.need_ids[0], "minimal": seeded.need_ids[1]}
    one_need = seeded.need_ids[-1]
    apps = {"aixin": (aixin, API), "minimal": (minimal, "")}
    deep = {
        name: quote(await _deep_in_process(app, f"{prefix}/needs", token))
        for name, (app, prefix) in apps.items()
    }
    results: dict[str, Any] = {}
    for kind in KINDS:
        results[kind] = {}
        for name, (app, prefix) in apps.items():
            need = need_ids[name]
            calls: list[tuple[str, str]] = {
                "healthz": [("GET", "/healthz")],
                "me": [("GET", f"{prefix}/me")],
                "browse": [("GET", f"{prefix}/needs?limit=20")],
                "browse_deep": [("GET", f"{prefix}/needs?limit=20&cursor={deep[name]}")],
                "one_need": [("GET", f"{prefix}/needs/{one_need}")],
                "claim_release": [
                    ("POST", f"{prefix}/needs/{need}/claim"),
                    ("POST", f"{prefix}/needs/{need}/release"),
                ],
            }[kind]
            for _ in range(args.warmup_requests):
                for method, path in calls:
                    await asgi_request(app, method, path, token, key=f"w{time.time_ns()}")
            profiler = None
            if args.profile and name == "aixin":
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0002, async_mode="disabled")
                profiler.start()
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.requests):
                for method, path in calls:
                    status, body = await asgi_request(
                        app, method, path, token, key=f"k{time.time_ns()}"
                    )
                    assert status < 300, (name, path, status, body[:300])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            if profiler is not None:
                profiler.stop()
                RESULTS.mkdir(exist_ok=True)
                out = RESULTS / f"hot_path_profile_{kind}.txt"
                out.write_text(profiler.output_text(unicode=True, show_all=False))
            count = args.requests * len(calls)
            results[kind][name] = {
                "cpu_ms": round(cpu / count * 1000, 3),
                "wall_ms": round(wall / count * 1000, 3),
            }
        a, m = results[kind]["aixin"], results[kind]["minimal"]
        print(
            f"{kind:14} CPU a request: aixin {a['cpu_ms']:6.2f} ms, "
            f"minimal {m['cpu_ms']:6.2f} ms ({m['cpu_ms'] / a['cpu_ms']:.2f}); "
            f"wall {a['wall_ms']:6.2f} / {m['wall_ms']:6.2f} ms",
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15, help="per request type and service")
    parser.add_argument("--warmup", type=float, default=3, help="seconds, before the first run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="one run of 5 s a request type")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="instead: both apps in this process, CPU milliseconds a request (quiet to noise)",
    )
    parser.add_argument("--requests", type=int, default=500, help="in process: per type")
    parser.add_argument("--warmup-requests", type=int, default=50, help="in process: per type")
    parser.add_argument(
        "--profile", action="store_true", help="in process: pyinstrument's profile of Aixin"
    )
    parser.add_argument("--keep-logs", action="store_true", help="copy the servers' logs")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.runs, args.warmup = 5, 1, 1
    with tempfile.TemporaryDirectory(prefix="aixin-hot-path-") as tmp:
        if args.in_process or args.profile:
            result = asyncio.run(in_process(args, Path(tmp)))
            RESULTS.mkdir(exist_ok=True)
            (RESULTS / "hot_path_in_process.json").write_text(json.dumps(result, indent=2))
            return
        wrk, how = find_wrk()
        print(f"wrk: {wrk} ({how})", flush=True)
        result = compare(args, wrk, how, Path(tmp))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hot_path.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

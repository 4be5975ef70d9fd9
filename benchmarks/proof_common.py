"""What the proofs share: a private PostgreSQL cluster, a served database, an open-loop driver.

The proofs stop and start their database and load it hard, so each one gets a PostgreSQL cluster
of its own (``initdb`` into a temporary directory, on a free port): the shared server that the
test suite uses is never touched. As root, the cluster runs as the ``postgres`` user.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.accounts import service as accounts_service
from app.accounts.schemas import AdminCreate
from app.core.db import Database
from app.core.security import Passwords
from app.core.settings import Settings
from benchmarks.browse import settings_for
from tests.factories import id_number, phone_number
from tests.live import free_port, live_server, server_environment

RESULTS = Path(__file__).parent / "results"
AIXIN = str(Path(sys.executable).parent / "aixin")


def write_result(name: str, result: dict[str, Any], server_log: Path) -> None:
    """Keep a proof's result (``<name>.json``) and its server's log in benchmarks/results/."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    if server_log.exists():
        shutil.copy(server_log, RESULTS / f"{name}_server.log")


DATABASE = "aixin_proof"


def _postgres_bin(tool: str) -> str:
    """The path of a PostgreSQL server program (initdb, pg_ctl), newest version first."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{tool}"), reverse=True)
    found = candidates[0] if candidates else shutil.which(tool)
    if not found:
        raise FileNotFoundError(f"{tool} not found: install the PostgreSQL server")
    return found


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1 that the proof may stop and start."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = free_port()
        self._as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def server_url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str = DATABASE) -> str:
        return self.server_url.rsplit("/", 1)[0] + f"/{database}"

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_owner, *command], check=True, capture_output=True)

    def init(self) -> None:
        """Create the cluster: trust on loopback, durable commits (fsync stays on)."""
        if self._as_owner:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(_postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(
            _postgres_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server the fast way: open sessions are cut, new ones refused."""
        self._run(_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _postmaster(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def _children(self) -> set[int]:
        listing = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self._postmaster())],
            capture_output=True,
            text=True,
        )
        return {int(pid) for pid in listing.stdout.split()}

    def freeze(self) -> None:
        """Suspend every server process: connections stay open and nothing answers, as when
        the database's machine hangs or the network drops packets."""
        # The postmaster first, so that it forks no backend the listing below would miss.
        os.kill(self._postmaster(), signal.SIGSTOP)
        stopped: set[int] = set()
        while fresh := self._children() - stopped:
            for pid in fresh:
                os.kill(pid, signal.SIGSTOP)
            stopped |= fresh

    def thaw(self) -> None:
        """Resume the suspended server processes."""
        for pid in self._children():
            os.kill(pid, signal.SIGCONT)
        os.kill(self._postmaster(), signal.SIGCONT)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private cluster, stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="aixin-proof-"))
    cluster = PrivatePostgres(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def prepare_database(cluster: PrivatePostgres, data_dir: Path) -> Settings:
    """A fresh database on ``cluster``, migrated and with the regions loaded, as an operator
    prepares one (``createdb``, ``aixin migrate``, ``aixin regions load``); its settings."""
    address = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres"]
    subprocess.run([_postgres_bin("createdb"), *address, DATABASE], check=True)
    settings = settings_for(cluster.url(), data_dir)
    for command in (["migrate"], ["regions", "load"]):
        subprocess.run(
            [AIXIN, *command], env=server_environment(settings), check=True, capture_output=True
        )
    return settings


@contextlib.contextmanager
def serve(settings: Settings, log: Path, env: dict[str, str]) -> Iterator[str]:
    """uvicorn with two workers (one per core) on ``settings``; yields its base URL."""
    with live_server(settings, log, workers=2, env=env) as base_url:
        yield base_url


# -- traffic --------------------------------------------------------------------------------


@dataclass(slots=True)
class Sample:
    """One request: when it was due and answered (monotonic seconds), and what came back."""

    kind: str
    due: float
    done: float = 0.0
    status: int = 0  # 0: no response (a client-side timeout or a dropped connection)
    content_type: str = ""
    retry_after: str | None = None
    code: str | None = None
    error: str | None = None
    created_id: int | None = None

    @property
    def latency_ms(self) -> float:
        return (self.done - self.due) * 1000


Fire = Callable[[Sample], Awaitable[httpx.Response]]


async def measure(sample: Sample, fire: Fire) -> Sample:
    """Send one request and record its outcome in ``sample``."""
    try:
        response = await fire(sample)
    except httpx.HTTPError as exc:
        sample.error = f"{type(exc).__name__}: {exc}"[:200]
    else:
        sample.status = response.status_code
        sample.content_type = response.headers.get("content-type", "")
        sample.retry_after = response.headers.get("retry-after")
        if sample.content_type.startswith("application/problem+json"):
            sample.code = response.json().get("code")
        elif response.status_code == 201:
            sample.created_id = response.json().get("id")
    sample.done = time.monotonic()
    return sample


async def open_loop(
    rate: float, seconds: float, choose: Callable[[], tuple[str, Fire]], limit: int = 2000
) -> list[Sample]:
    """Send requests at ``rate`` per second for ``seconds``, whether or not earlier ones came back.

    Each request's latency counts from when it was due, so a server that falls behind is charged
    for the wait (no coordinated omission). Past ``limit`` requests in flight the driver stops
    sending and marks the due requests as dropped (status 0), so an overloaded server fails the
    rate instead of exhausting the client.
    """
    started = time.monotonic()
    tasks: set[asyncio.Task[Sample]] = set()
    samples: list[Sample] = []
    for index in range(int(rate * seconds)):
        due = started + index / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        kind, fire = choose()
        if len(tasks) >= limit:
            samples.append(Sample(kind, due, time.monotonic(), error="dropped: too many in flight"))
            continue
        task = asyncio.create_task(measure(Sample(kind, due), fire))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        task.add_done_callback(lambda done: samples.append(done.result()))
    await asyncio.gather(*tasks)
    return samples


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by the nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)), 1) - 1]


@dataclass
class Summary:
    """Throughput, latency and outcomes of a set of samples."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    by_status: dict[str, int] = field(default_factory=dict)
    errors: int = 0

    @classmethod
    def of(cls, samples: Sequence[Sample], seconds: float) -> Summary:
        latencies = [sample.latency_ms for sample in samples]
        statuses: dict[str, int] = {}
        for sample in samples:
            statuses[str(sample.status)] = statuses.get(str(sample.status), 0) + 1
        return cls(
            requests=len(samples),
            seconds=round(seconds, 1),
            rps=round(len(samples) / seconds, 1) if seconds else 0.0,
            p50_ms=round(percentile(latencies, 50), 1),
            p95_ms=round(percentile(latencies, 95), 1),
            p99_ms=round(percentile(latencies, 99), 1),
            max_ms=round(max(latencies, default=0.0), 1),
            by_status=dict(sorted(statuses.items())),
            errors=sum(1 for sample in samples if not 200 <= sample.status < 300),
        )


@contextlib.asynccontextmanager
async def client(base_url: str, connections: int = 200) -> AsyncIterator[httpx.AsyncClient]:
    """A keep-alive client of the served app with ``connections`` at most."""
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends: a request sent on a
    # connection the server is closing at that moment would fail on the client's side.
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=2
    )
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        yield http


# -- people ---------------------------------------------------------------------------------

PASSWORD = "proof-password-1"


@dataclass
class People:
    """Signed-in headers: a county admin of Dongkou and the donors."""

    admin: dict[str, str]
    donors: list[dict[str, str]]
    donor_names: list[str]
    admin_name: str = "proof-county"


async def sign_in(http: httpx.AsyncClient, username: str) -> dict[str, str]:
    """Authorization headers for ``username``."""
    response = await http.post(
        "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def make_people(http: httpx.AsyncClient, settings: Settings, donors: int) -> People:
    """A county admin (as ``aixin create-admin`` makes one) and donors registered by the API."""
    database = Database(settings)
    try:
        async with database.sessionmaker.begin() as session:
            data = AdminCreate(
                username="proof-county", password=PASSWORD, role="county", scope="430525"
            )
            await accounts_service.create_admin(session, Passwords(settings), None, data)
    finally:
        await database.dispose()
    names = [f"proof-donor-{index}" for index in range(donors)]
    gate = asyncio.Semaphore(16)

    async def register(name: str) -> dict[str, str]:
        body = {
            "username": name,
            "password": PASSWORD,
            "display_name": "爱心企业",
            "kind": "enterprise",
        }
        async with gate:
            (await http.post("/api/v1/auth/register", json=body)).raise_for_status()
            return await sign_in(http, name)

    headers = await asyncio.gather(*(register(name) for name in names))
    return People(await sign_in(http, "proof-county"), list(headers), names)


async def sign_in_again(http: httpx.AsyncClient, people: People) -> None:
    """Fresh access tokens for everyone (they live 15 minutes at most)."""
    people.admin = await sign_in(http, people.admin_name)
    people.donors = [await sign_in(http, name) for name in people.donor_names]


def household_body(village: str) -> dict[str, Any]:
    """A new household in ``village`` with a valid ID number no one else has."""
    return {
        "village_code": village,
        "head_name": "王秀英",
        "id_number": id_number(),
        "phone": phone_number(),
        "size": 3,
        "support_category": "poor",
    }

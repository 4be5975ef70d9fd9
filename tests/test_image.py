"""The Docker image, proven without a Docker engine.

The Dockerfile is read, not trusted: the files its build stage copies (and nothing else) make a
build context, the wheel is built from it, and an empty virtual environment gets the locked
dependencies (with their hashes, as the build stage installs them) and the wheel. The final
stage's files are laid out the same way, and the image's CMD runs there with the image's ENV
against a fresh PostgreSQL database, until ``/readyz`` answers 200. A file the image needs but
does not copy fails the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import httpx
import pytest

from tests.conftest import TEST_SECRET, create_postgres_database, drop_postgres_database
from tests.live import free_port

pytestmark = pytest.mark.postgresql_only

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
IMAGE_VENV = "/opt/venv"
READY_SECONDS = 120
# The locked wheels, kept between runs (pip caches nothing from this machine's index), one folder
# per content of the lock; a folder unused for a week goes.
WHEELHOUSES = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "aixin-wheels"


@dataclass
class Copy:
    sources: list[str]
    destination: str
    from_stage: str | None


@dataclass
class Stage:
    name: str | None
    workdir: PurePosixPath = field(default_factory=lambda: PurePosixPath("/"))
    copies: list[Copy] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] = field(default_factory=list)


def _instructions(text: str) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) of each instruction, continuation lines joined."""
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        pending = ""
        yield keyword.upper(), arguments.strip()


def parse_dockerfile(text: str) -> list[Stage]:
    """The stages of a Dockerfile: WORKDIR, COPY, RUN, ENV and CMD of each."""
    stages: list[Stage] = []
    for keyword, arguments in _instructions(text):
        if keyword == "FROM":
            words = arguments.split()
            stages.append(Stage(name=words[2] if len(words) == 3 else None))
            continue
        stage = stages[-1]
        if keyword == "WORKDIR":
            stage.workdir = stage.workdir / arguments
        elif keyword == "COPY":
            words = shlex.split(arguments)
            flags = [word for word in words if word.startswith("--")]
            paths = [word for word in words if not word.startswith("--")]
            from_stage = next((flag.split("=", 1)[1] for flag in flags if "--from=" in flag), None)
            stage.copies.append(Copy(paths[:-1], paths[-1], from_stage))
        elif keyword == "RUN":
            stage.runs.append(arguments)
        elif keyword == "ENV":
            for word in shlex.split(arguments):
                name, _, value = word.partition("=")
                stage.env[name] = value
        elif keyword == "CMD":
            stage.cmd = json.loads(arguments)
    return stages


def copy_into(root: Path, stage: Stage) -> None:
    """Place under ``root`` (the image's /) what the stage's COPY lines take from the context."""
    for copy in stage.copies:
        if copy.from_stage is not None:
            continue
        destination = root / (stage.workdir / copy.destination).relative_to("/")
        into_directory = copy.destination.endswith(("/", ".")) or len(copy.sources) > 1
        for name in copy.sources:
            assert not set(name) & set("*?["), f"COPY {name}: wildcards are not read here"
            source = REPO / name
            assert source.exists(), f"COPY {name}: no such file in the repository"
            if source.is_dir():
                shutil.copytree(source, destination, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target = destination / source.name if into_directory else destination
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)


def run(*command: str | Path) -> None:
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"


def pip(*arguments: str | Path) -> None:
    run(sys.executable, "-m", "pip", "--disable-pip-version-check", *arguments)


def wheelhouse(lock: Path) -> Path:
    """A folder holding a wheel of each locked distribution, made once per content of the lock."""
    house = WHEELHOUSES / hashlib.sha256(lock.read_bytes()).hexdigest()[:16]
    if not house.is_dir():
        partial = WHEELHOUSES / f"{house.name}.{os.getpid()}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        pip("wheel", "--quiet", "--require-hashes", "-r", lock, "--wheel-dir", partial)
        try:
            partial.rename(house)
        except OSError:  # a concurrent run made it first
            shutil.rmtree(partial, ignore_errors=True)
    week_ago = time.time() - 7 * 86_400
    for other in WHEELHOUSES.iterdir():
        if other != house and other.stat().st_mtime < week_ago:
            shutil.rmtree(other, ignore_errors=True)
    house.touch()
    return house


@dataclass
class Image:
    """The image's files on this machine: the final stage's / and its virtual environment."""

    root: Path
    venv: Path
    final: Stage


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The wheel built from the build stage's files, installed with the lock into a new venv."""
    build, final = parse_dockerfile(DOCKERFILE.read_text())
    work = tmp_path_factory.mktemp("image")
    context = work / "build"
    copy_into(context, build)
    source = context / build.workdir.relative_to("/")

    locked = [shlex.split(line) for line in build.runs if "--require-hashes" in line]
    assert locked, "the build stage installs nothing with --require-hashes (from the lock)"
    lock = source / locked[0][locked[0].index("-r") + 1]

    pip("wheel", "--no-deps", "--quiet", "--wheel-dir", work / "wheels", source)
    (wheel,) = (work / "wheels").glob("aixin-*.whl")

    assert any(copy.from_stage == build.name for copy in final.copies)
    assert [copy.sources for copy in final.copies if copy.from_stage] == [[IMAGE_VENV]]
    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    target = ("--python", venv / "bin" / "python", "install", "--quiet", "--no-compile")
    pip(*target, "--no-index", "--find-links", wheelhouse(lock), "--require-hashes", "-r", lock)
    pip(*target, "--no-deps", wheel)

    root = work / "final"
    copy_into(root, final)
    return Image(root, venv, final)


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    url = await create_postgres_database()
    yield url
    await drop_postgres_database(url)


def image_environment(image: Image, database_url: str, port: int) -> dict[str, str]:
    """The final stage's ENV, its paths under ``image.root``; the secrets a deployment gives."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIXIN_", "PYTHON", "VIRTUAL_ENV"))
    }
    for name, value in image.final.env.items():
        if name == "PATH":
            value = value.replace(IMAGE_VENV, str(image.venv)).replace("$PATH", env["PATH"])
        elif value.startswith("/"):
            value = str(image.root / value.lstrip("/"))
        env[name] = value
    env.update(
        AIXIN_HOST="127.0.0.1",
        AIXIN_PORT=str(port),
        AIXIN_DATABASE_URL=database_url,
        AIXIN_SECRET_KEY=TEST_SECRET,
        AIXIN_DATA_KEY=TEST_SECRET + "-data",
        AIXIN_INDEX_KEY=TEST_SECRET + "-index",
    )
    return env


def test_the_image_command_migrates_loads_and_serves_until_ready(
    image: Image, database_url: str
) -> None:
    assert image.final.cmd[:2] == ["sh", "-c"]
    assert image.final.env["AIXIN_ENV"] == "production"
    workdir = image.root / image.final.workdir.relative_to("/")
    (image.root / image.final.env["AIXIN_DATA_DIR"].lstrip("/")).mkdir(parents=True)
    port = free_port()
    log_path = workdir / "container.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            image.final.cmd,
            cwd=workdir,
            env=image_environment(image, database_url, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            status = _wait_until_ready(f"http://127.0.0.1:{port}", process)
        finally:
            _stop(process)
    output = log_path.read_text(errors="replace")
    assert status == 200, output[-4000:]
    assert "database at revision" in output
    assert "bundled regions" in output


def _wait_until_ready(base_url: str, process: subprocess.Popen[bytes]) -> int | None:
    """The first 200 of /readyz; the last status seen when the process ends or time runs out."""
    status = None
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            status = httpx.get(f"{base_url}/readyz", timeout=2).status_code
        except httpx.HTTPError:
            status = None
        if status == 200:
            return status
        time.sleep(0.2)
    return status


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the command's process group (sh, then the server and its workers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

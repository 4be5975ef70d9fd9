"""``aixin``: the admin command line."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from app.core.settings import Settings, get_settings

cli = typer.Typer(help="Aixin (爱心对接) administration.", no_args_is_help=True)
regions_cli = typer.Typer(help="Division codes (regions).", no_args_is_help=True)
cli.add_typer(regions_cli, name="regions")


def _run(job: Callable[[Settings], Coroutine[Any, Any, Any]]) -> Any:
    """Run one async job against the configured database, then release it."""
    try:
        settings = get_settings()
    except ValidationError as exc:
        typer.echo(f"aixin: bad settings: {exc}", err=True)
        raise typer.Exit(2) from exc
    return asyncio.run(job(settings))


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (AIXIN_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (AIXIN_PORT)")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code changes (development)")] = False,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        reload=reload,
        proxy_headers=True,
        access_log=False,
        log_config=None,
    )


@cli.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Bring the database schema up to ``revision`` (the newest by default)."""
    from app.core import migrations
    from app.core.db import make_engine

    async def job(settings: Settings) -> None:
        engine = make_engine(settings)
        try:
            await migrations.upgrade(engine, revision)
            current = await migrations.current_revisions(engine)
        finally:
            await engine.dispose()
        typer.echo(f"database at revision {', '.join(sorted(current)) or 'base'}")

    _run(job)


@regions_cli.command("load")
def regions_load(
    villages: Annotated[
        list[Path] | None,
        typer.Option(
            "--villages",
            exists=True,
            dir_okay=False,
            help="Also load this file of the same columns (.csv or .csv.gz), such as the "
            "national villages.csv.gz; repeatable",
        ),
    ] = None,
    bundled: Annotated[bool, typer.Option(help="Load the data shipped with the project")] = True,
) -> None:
    """Load the division codes: the bundled data, and any further files given."""
    from sqlalchemy.exc import IntegrityError

    from app.core.db import make_engine
    from app.regions import loader

    async def job(settings: Settings) -> None:
        engine = make_engine(settings)
        try:
            async with engine.begin() as connection:
                if bundled:
                    count = await loader.upsert_regions(connection, loader.bundled_rows())
                    typer.echo(f"loaded {count} bundled regions")
                for path in villages or []:
                    count = await loader.upsert_regions(connection, loader.file_rows(path))
                    typer.echo(f"loaded {count} regions from {path}")
        except loader.RegionFileError as exc:
            typer.echo(f"aixin: {exc}", err=True)
            raise typer.Exit(2) from exc
        except IntegrityError as exc:
            typer.echo(
                "aixin: a region's parent is missing; load the higher levels first "
                f"(nothing was loaded): {exc.orig}",
                err=True,
            )
            raise typer.Exit(2) from exc
        finally:
            await engine.dispose()

    _run(job)


async def _on_database(settings: Settings, work: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``work(database)`` against the configured database, then release it."""
    from app.core.db import Database

    database = Database(settings)
    try:
        return await work(database)
    finally:
        await database.dispose()


@cli.command()
def expire() -> None:
    """Lapse overdue claims and close needs past their deadline (safe to run at any time)."""
    from app.jobs import run_expiry

    async def job(settings: Settings) -> None:
        result = await _on_database(settings, run_expiry)
        typer.echo(f"lapsed {result.lapsed_claims} claims, expired {result.expired_needs} needs")

    _run(job)


@cli.command()
def reconcile(
    date: Annotated[str, typer.Option("--date", help="The day (Beijing time), YYYY-MM-DD")],
) -> None:
    """Compare WeChat Pay's settled payments of a day with the ledger's income; list mismatches."""
    import datetime as dt

    from app.funds.reconcile import reconcile as compare
    from app.funds.wechatpay import provider_for

    try:
        day = dt.date.fromisoformat(date)
    except ValueError as exc:
        typer.echo("aixin: --date is YYYY-MM-DD", err=True)
        raise typer.Exit(2) from exc

    async def job(settings: Settings) -> int:
        provider = provider_for(settings)
        if provider is None:
            typer.echo("aixin: WeChat Pay is not configured (AIXIN_WECHAT_PAY_*)", err=True)
            return 2

        async def work(database: Any) -> int:
            async with database.sessionmaker() as session:
                mismatches = await compare(session, provider, day)
            for mismatch in mismatches:
                typer.echo(str(mismatch))
            typer.echo(f"{day}: {len(mismatches)} 处不符")
            return 1 if mismatches else 0

        result: int = await _on_database(settings, work)
        return result

    raise typer.Exit(_run(job))


@cli.command()
def worker() -> None:
    """Deliver the outbox (webhooks) and run the scheduled jobs until stopped (SIGTERM, Ctrl-C).

    Any number of workers may run at once against PostgreSQL: they share the deliveries and each
    scheduled job runs once per period.
    """
    import signal

    from app.core.logging import configure_logging
    from app.jobs import worker_loop

    async def job(settings: Settings) -> None:
        configure_logging(settings.log_level, json=settings.log_json)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await _on_database(settings, lambda database: worker_loop(database, settings, stop))

    _run(job)


model_cli = typer.Typer(help="The success model", no_args_is_help=True)
cli.add_typer(model_cli, name="model")


@model_cli.command("refresh")
def model_refresh() -> None:
    """Re-learn the success model from every ended pairing (safe to run at any time)."""
    from app.jobs import refresh_model

    async def job(settings: Settings) -> None:
        segments = await _on_database(settings, refresh_model)
        typer.echo(f"success model refreshed: {segments} segments with outcomes")

    _run(job)


@cli.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Argument(help="The new admin's username")],
    role: Annotated[str, typer.Option(help="platform, county, township or village")],
    scope: Annotated[
        str, typer.Option(help="Region code the admin acts in ('' for platform)")
    ] = "",
    password: Annotated[
        str | None,
        typer.Option(help="Password; asked for when omitted", show_default=False),
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="Name shown to others")] = None,
) -> None:
    """Create an admin from the shell (the first platform admin starts here)."""
    from app.accounts import service
    from app.accounts.schemas import AdminCreate
    from app.core.db import Database
    from app.core.errors import AppError
    from app.core.security import Passwords

    secret = password or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        data = AdminCreate(
            username=username, password=secret, role=role, scope=scope, display_name=display_name
        )
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"aixin: {'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
        raise typer.Exit(2) from exc

    async def job(settings: Settings) -> None:
        database = Database(settings)
        try:
            async with database.sessionmaker.begin() as session:
                admin = await service.create_admin(session, Passwords(settings), None, data)
                typer.echo(
                    f"created {admin.role} admin {admin.username!r} (id {admin.id}) "
                    f"for scope {admin.scope_code or '(everything)'}"
                )
        except AppError as exc:
            typer.echo(f"aixin: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
        finally:
            await database.dispose()

    _run(job)


@cli.command()
def simulate(
    profile: Annotated[str, typer.Option(help="dongkou (the full county) or small")] = "dongkou",
    months: Annotated[int, typer.Option(min=1, max=36, help="Months of new needs")] = 12,
    seed: Annotated[int, typer.Option(help="Seed of every random draw")] = 1,
    scale: Annotated[
        float,
        typer.Option(min=0.001, help="Households, needs and donors of the profile times this"),
    ] = 1.0,
    policy: Annotated[
        str,
        typer.Option(
            help="claims (first come only), claims+matching (monthly runs), claims+daily "
            "(nightly runs and reminders) or claims+daily+no-effect (reminders unheeded)"
        ),
    ] = "claims+matching",
    start: Annotated[str, typer.Option(help="First simulated day (YYYY-MM-DD)")] = "2026-01-01",
    output: Annotated[Path | None, typer.Option(help="Write the summary here (JSON)")] = None,
) -> None:
    """Simulate a county's year through the service layer on an empty database."""
    import datetime as dt

    from app import simulation

    if profile not in simulation.PROFILES:
        typer.echo(f"aixin: no profile {profile!r}; one of {sorted(simulation.PROFILES)}", err=True)
        raise typer.Exit(2)
    if policy not in simulation.POLICIES:
        typer.echo(f"aixin: no policy {policy!r}; one of {list(simulation.POLICIES)}", err=True)
        raise typer.Exit(2)
    try:
        first = dt.date.fromisoformat(start)
    except ValueError as exc:
        typer.echo(f"aixin: --start is not a date: {start!r}", err=True)
        raise typer.Exit(2) from exc

    async def job(settings: Settings) -> dict[str, Any]:
        return await simulation.simulate(
            settings, simulation.scaled(simulation.PROFILES[profile], scale), policy=policy,
            seed=seed, months=months, start=first,
        )  # fmt: skip

    try:
        summary = _run(job)
    except simulation.NotEmpty as exc:
        typer.echo(f"aixin: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(simulation.report(summary))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        typer.echo(f"wrote {output}")


@cli.command()
def openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document")] = Path(
        "openapi/openapi.json"
    ),
) -> None:
    """Write the OpenAPI document the service serves."""
    from app.main import create_app

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_openapi(create_app().openapi()))
    typer.echo(f"wrote {output}")


def render_openapi(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    cli(prog_name="aixin")


if __name__ == "__main__":
    main()

"""State machines as data, and the one way a row changes state: a compare-and-set.

A domain declares its life as a :class:`TransitionTable`: (state, action) → (new state, who may).
The service moves a row with :func:`compare_and_set`, an ``UPDATE … WHERE id = :id AND status =
:expected`` in the request's transaction, so that of any number of concurrent callers exactly
one wins and the others get 409 naming the actions now allowed. Nothing reads the state, decides
in Python and writes it back.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from sqlalchemy import Update, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.core import statements
from app.core.errors import Conflict, InvalidTransition

# Who may take an action: any admin in scope, a reviewing admin (township and wider), any donor,
# the donor who holds the record, or nobody but the service itself (lapses, supersession).
Actor = Literal["admin", "reviewer", "donor", "holder", "system"]


@dataclass(frozen=True, slots=True)
class Transition:
    to: str
    by: Actor


@dataclass(frozen=True)
class TransitionTable:
    """The states and moves of one kind of record."""

    entity: str
    states: tuple[str, ...]
    moves: Mapping[tuple[str, str], Transition]
    actions: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        for (source, action), move in self.moves.items():
            if source not in self.states or move.to not in self.states:
                raise ValueError(f"{self.entity}: ({source}, {action}) names an unknown state")
        actions = tuple(dict.fromkeys(action for _, action in self.moves))
        object.__setattr__(self, "actions", actions)

    def allowed(self, state: str) -> list[str]:
        """The actions a caller may ask for in ``state`` (system actions happen by themselves)."""
        return [
            action
            for (source, action), move in self.moves.items()
            if source == state and move.by != "system"
        ]

    def check(self, state: str, action: str) -> Transition:
        """The move of ``action`` from ``state``, or 409 naming the allowed actions."""
        move = self.moves.get((state, action))
        if move is None:
            allowed = self.allowed(state)
            raise InvalidTransition(
                f"A {state} {self.entity} cannot take '{action}'; "
                f"allowed: {', '.join(allowed) or 'none'}",
                allowed=allowed,
                state=state,
            )
        return move


class Stateful(Protocol):
    id: Any
    status: Any


async def compare_and_set(
    session: AsyncSession,
    row: Stateful,
    table: TransitionTable,
    action: str,
    *,
    guard: Mapping[str, Any] | None = None,
    lost: str | None = None,
    **values: Any,
) -> str:
    """Move ``row`` by ``action`` if it is still in the state it was read in; the old state.

    The row's status (and each column of ``guard`` at the value given, such as a version) is the
    condition of the UPDATE: if another transaction moved it first, nothing is written and the
    caller gets 409 (``lost``, or ``<entity>_changed``). ``values`` are plain values (no SQL
    expressions), so that ``row`` is updated in memory to exactly what was written.
    """
    before: str = row.status
    move = table.check(before, action)
    guard = guard or {}
    statement = _statement(type(row), tuple(guard), tuple(values))
    parameters = {"cas_id": row.id, "cas_before": before, "cas_status": move.to}
    parameters.update({f"cas_guard_{name}": value for name, value in guard.items()})
    parameters.update({f"cas_set_{name}": value for name, value in values.items()})
    if (await statements.run(session, statement, parameters)).rowcount != 1:
        raise Conflict(
            f"The {table.entity} was changed by someone else while you were acting; reload it",
            code=lost or f"{table.entity}_changed",
            state=None,
        )
    # What was written, without marking the row dirty (that would write it a second time).
    set_committed_value(row, "status", move.to)
    for name, value in values.items():
        set_committed_value(row, name, value)
    return before


@functools.lru_cache(maxsize=512)
def _statement(model: Any, guarded: tuple[str, ...], written: tuple[str, ...]) -> Update:
    """The compare-and-set of one shape (which columns are guarded and which written), built
    once: every move runs one, and building it costs more than running it."""
    columns = model.__table__.c
    return (
        update(model)
        .where(
            model.id == bindparam("cas_id"),
            model.status == bindparam("cas_before"),
            *(getattr(model, name) == bindparam(f"cas_guard_{name}") for name in guarded),
        )
        .values(
            status=bindparam("cas_status", type_=columns.status.type),
            **{name: bindparam(f"cas_set_{name}", type_=columns[name].type) for name in written},
        )
        .execution_options(synchronize_session=False)
    )


Due = TypeVar("Due")


async def move_each(
    session: AsyncSession, due: Iterable[Due], step: Callable[[Due], Awaitable[object]]
) -> int:
    """Take ``step`` on each record found due (a lapse job's batch), each in its own savepoint;
    how many it moved. A step that loses its compare-and-set (a person or another runner moved
    the record meanwhile) is undone alone and skipped."""
    moved = 0
    for record in due:
        try:
            async with session.begin_nested():
                await step(record)
        except Conflict:
            continue
        moved += 1
    return moved

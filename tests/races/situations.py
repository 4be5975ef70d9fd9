"""The races of a need's life, generated from the need's and the pairing's transition tables.

A *situation* is a need state together with the pairing that lives beside it (a published need
may have a proposal, a claimed need has an active pairing, a delivered need a delivered one).
Its actions are the need's moves from that state and the pairing's moves from its state; an
action of the same name on both is one request that moves both (release, deliver, cancel,
confirm, dispute, lapse; the need's accept is the proposal's accept). Every unordered pair of
one situation's actions, an action with itself included, is a race.

The model here also says what any order of winners must leave behind, so a race is checked
against the tables and not against a list written by hand: a new action or state in either
table is raced, or fails :func:`unclassified` until the harness knows how to perform it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from app.core.transitions import Transition
from app.needs import states as need_states
from app.pairings import states as pairing_states

NEED = need_states.TABLE
PAIRING = pairing_states.TABLE

# The pairing that lives beside a need in each state still in play (None: none yet).
BESIDE: dict[str, str | None] = {
    "pending_review": None,
    "published": "proposed",
    "claimed": "active",
    "delivered": "delivered",
}
# Pairing moves nobody performs: they follow from a need move that the pairing does not take
# itself (a proposal is superseded when its need is claimed directly, cancelled or expires).
CONSEQUENCES = ("supersede",)
# Need moves that another record's request makes: a funding's confirmation settles the need that
# money paid for (app/funds). They are raced with that record's actions, every pair of them, in
# tests/funds/test_races.py, which checks the need's state and history after each race.
ELSEWHERE = {("need", "settle"): "tests/funds/test_races.py"}
# How the system actions become due: the lapse job is run with a moment past the deadline of
# the need (expire) or past the hold of its pairing (lapse). Keyed by (entity, action).
DUE = {("need", "expire"), ("need", "lapse"), ("pairing", "lapse")}


@dataclass(frozen=True, slots=True)
class Action:
    """One request (or one job run) that moves the need, the pairing, or both."""

    name: str
    need: Transition | None
    pairing: Transition | None
    # The states it was found in: a system action is due there only (a proposal's lapse is not
    # a claim's, though both are the pairing's "lapse").
    need_from: str = ""
    pairing_from: str | None = None

    @property
    def by(self) -> str:
        """Who performs it: the first side that is not the system's, else the system."""
        sides = [move.by for move in (self.need, self.pairing) if move is not None]
        return next((by for by in sides if by != "system"), "system")

    @property
    def entity(self) -> str:
        """The entity whose endpoint (or due moment) performs it."""
        if self.need is not None and (self.need.by != "system" or self.by == "system"):
            return "need"
        return "pairing"


@dataclass(frozen=True, slots=True)
class Situation:
    need: str
    pairing: str | None
    actions: tuple[Action, ...]

    def action(self, name: str) -> Action:
        return next(action for action in self.actions if action.name == name)


@dataclass(frozen=True, slots=True)
class Race:
    situation: Situation
    first: Action
    second: Action

    @property
    def id(self) -> str:
        a, b = sorted((self.first.name, self.second.name))
        return f"{self.situation.need}:{a}-vs-{b}"

    @property
    def label(self) -> str:
        a, b = sorted((self.first.name, self.second.name))
        return f"{self.situation.need}: {a} × {b}"

    @property
    def actions(self) -> tuple[Action, ...]:
        return (self.first,) if self.first == self.second else (self.first, self.second)


def _moves_from(
    table_moves: Iterable[tuple[tuple[str, str], Transition]], state: str | None
) -> dict[str, Transition]:
    return {action: move for (source, action), move in table_moves if source == state}


def situation(need_state: str) -> Situation:
    """The actions a need in ``need_state`` and the pairing beside it may take."""
    pairing_state = BESIDE[need_state]
    need_moves = _moves_from(NEED.moves.items(), need_state)
    pairing_moves = _moves_from(PAIRING.moves.items(), pairing_state)
    names = dict.fromkeys([*need_moves, *pairing_moves])
    actions = tuple(
        Action(name, need_moves.get(name), pairing_moves.get(name), need_state, pairing_state)
        for name in names
        if (name not in CONSEQUENCES or name in need_moves) and ("need", name) not in ELSEWHERE
    )
    return Situation(need_state, pairing_state, actions)


def situations() -> list[Situation]:
    return [situation(state) for state in BESIDE]


def races() -> list[Race]:
    """Every unordered pair (with repetition) of the actions of every situation."""
    return [
        Race(place, first, second)
        for place in situations()
        for first, second in itertools.combinations_with_replacement(place.actions, 2)
    ]


def unclassified() -> list[str]:
    """What the harness would not know how to race: an empty list when the tables are covered."""
    problems = [
        f"need state {state} has moves but no place in BESIDE"
        for state in dict.fromkeys(source for source, _ in NEED.moves)
        if state not in BESIDE
    ]
    for entity, table in (("need", NEED), ("pairing", PAIRING)):
        for (_, action), move in table.moves.items():
            covered = (
                (entity, action) in DUE
                or action in CONSEQUENCES
                or (entity, action) in ELSEWHERE
                or (entity == "need" and _mirrored(action))
            )
            if move.by == "system" and not covered:
                problems.append(f"system action {entity} {action} is neither due nor a consequence")
    return problems


def _mirrored(action: str) -> bool:
    """A need action performed by the pairing's own request (the need's accept)."""
    return any(name == action and move.by != "system" for (_, name), move in PAIRING.moves.items())


# -- what an order of winners leaves behind --------------------------------------------------


@dataclass(frozen=True, slots=True)
class World:
    """The need, the pairing the race began with, the pairings created since, event counts."""

    need: str
    pairing: str | None
    created: tuple[str, ...] = ()  # in sorted order: which was made first does not matter
    need_events: int = 0
    pairing_events: int = 0

    def beside(self) -> int | None:
        """Which pairing is beside the need: 0 the race's own, 1.. one created since."""
        wanted = BESIDE.get(self.need)
        states = [self.pairing, *self.created]
        found = [i for i, state in enumerate(states) if state is not None and state == wanted]
        return found[-1] if found else None


def apply(world: World, action: Action) -> World | None:
    """``world`` after ``action``, or None when the tables do not allow it there.

    The record the request addresses must take the move (the need, or the race's own pairing
    by its id); the other takes it too while it is beside, as the tables say for its state.
    A pairing left behind by its need takes its consequence (a proposal is superseded), and a
    claim creates a pairing.
    """
    if not _due(world, action):
        return None
    states: list[str | None] = [world.pairing, *world.created]
    need, need_events, pairing_events = world.need, world.need_events, world.pairing_events
    near = world.beside()
    if action.entity == "need":
        need_move = NEED.moves.get((need, action.name))
        if need_move is None:
            return None
        need, need_events = need_move.to, need_events + 1
        if near is not None:
            state = states[near]
            assert state is not None
            pairing_move = PAIRING.moves.get((state, action.name)) or _consequence(state, need)
            if pairing_move is not None:
                states[near], pairing_events = pairing_move.to, pairing_events + 1
        if action.name in pairing_states.INITIAL:
            states.append(pairing_states.INITIAL[action.name])
            pairing_events += 1
    else:
        own = states[0]
        pairing_move = PAIRING.moves.get((own, action.name)) if own is not None else None
        if pairing_move is None:
            return None
        states[0], pairing_events = pairing_move.to, pairing_events + 1
        if near == 0 and action.need is not None:
            need_move = NEED.moves.get((need, action.name))
            if need_move is None:
                return None
            need, need_events = need_move.to, need_events + 1
    created = tuple(sorted(state for state in states[1:] if state is not None))
    return World(need, states[0], created, need_events, pairing_events)


def _due(world: World, action: Action) -> bool:
    """A request may come at any time; the job is run when this one move is due, and only it."""
    if action.by != "system":
        return True
    if action.entity == "need":
        return world.need == action.need_from
    return world.pairing == action.pairing_from


def _consequence(state: str, need: str) -> Transition | None:
    """The move a pairing takes when its need leaves it behind (none while still beside)."""
    if BESIDE.get(need) == state:
        return None
    moves = (PAIRING.moves.get((state, name)) for name in CONSEQUENCES)
    return next((move for move in moves if move is not None), None)


def replay(start: World, order: Iterable[Action]) -> World | None:
    """``start`` after ``order``, or None when some step is not allowed."""
    world: World | None = start
    for action in order:
        if world is None:
            return None
        world = apply(world, action)
    return world


def outcomes(start: World, winners: list[Action]) -> Iterator[World]:
    """What each allowed order of ``winners`` leaves behind."""
    for order in itertools.permutations(winners):
        world = replay(start, order)
        if world is not None:
            yield world


def conflicting(start: World, a: Action, b: Action) -> bool:
    """Whether ``a`` and ``b`` exclude each other: in neither order may both happen."""
    return replay(start, (a, b)) is None and replay(start, (b, a)) is None

"""Small instances for the matching tests: hypothesis strategies and a seeded generator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

import matching

# Villages of two townships of one county, one of another county, one in another province.
VILLAGES = (
    "430525101201",
    "430525101202",
    "430525102201",
    "430525102202",
    "430521100201",
    "110101001001",
)
PREFERENCES = ("", "43", "4305", "430525", "430525101", "430525102", "430525101201", "11")
VALUES = (0, 500, 1000, 3000)
CAPS = (None, 500, 1000, 3000)


@dataclass(frozen=True)
class Instance:
    needs: matching.Needs
    offers: matching.Offers
    params: matching.Parameters
    model: matching.SuccessModel


def model_with_history(seed: int = 0, categories: int = 2) -> matching.SuccessModel:
    rng = np.random.default_rng(seed)
    trials = rng.integers(0, 40, size=(categories, len(matching.BANDS)))
    successes = rng.binomial(trials, 0.7)
    return matching.SuccessModel(segment_successes=successes, segment_failures=trials - successes)


@st.composite
def instances(draw: st.DrawFn, max_needs: int = 8, max_offers: int = 5) -> Instance:
    """Small random instances with shared prefixes, caps, floors and many equal scores."""
    n = draw(st.integers(0, max_needs))
    m = draw(st.integers(0, max_offers))

    def column(strategy: st.SearchStrategy[object], size: int) -> list[object]:
        return draw(st.lists(strategy, min_size=size, max_size=size))

    needs = matching.Needs(
        ids=draw(st.permutations(range(100, 100 + n))) if n else [],
        category=column(st.integers(0, 1), n),
        village=column(st.sampled_from(VILLAGES), n),
        value=column(st.sampled_from(VALUES), n),
        urgency=column(st.integers(1, 3), n),
        days_waiting=column(st.sampled_from((0, 7, 14, 30, 90)), n),
        key_household=column(st.booleans(), n),
    )
    offers = matching.Offers(
        ids=draw(st.permutations(range(500, 500 + m))) if m else [],
        category=column(st.integers(0, 1), m),
        region=column(st.sampled_from(PREFERENCES), m),
        capacity=column(st.integers(1, 3), m),
        value_cap=column(st.sampled_from(CAPS), m),
        donor_successes=column(st.integers(0, 6), m),
        donor_failures=column(st.integers(0, 6), m),
    )
    params = matching.Parameters(
        urgency_weight=draw(st.sampled_from((0.0, 0.5, 1.0))),
        waiting_weight=draw(st.sampled_from((0.0, 0.5))),
        key_household_weight=draw(st.sampled_from((0.0, 2.0))),
        probability_floor=draw(st.sampled_from((0.0, 0.55, 0.65))),
        memory_budget=draw(st.sampled_from((1, 2**20))),
    )
    model = draw(st.sampled_from((matching.SuccessModel(), model_with_history())))
    return Instance(needs, offers, params, model)


def seeded(seed: int, needs: int, offers: int, villages: int = 30) -> Instance:
    """A larger random county-like instance (about four needs per offer unit)."""
    rng = np.random.default_rng(seed)
    codes = np.array(
        [f"430525{100 + t:03d}{200 + v:03d}" for t in range(villages // 5) for v in range(5)]
    )
    townships = np.unique([code[:9] for code in codes])
    region = rng.choice(np.concatenate([townships, ["430525", ""]]), offers)
    return Instance(
        needs=matching.Needs(
            ids=rng.permutation(needs) + 1,
            category=rng.choice(["goods", "health", "skills"], needs),
            village=rng.choice(codes, needs),
            value=rng.choice([1000, 5000, 20000, 80000], needs),
            urgency=rng.integers(1, 4, needs),
            days_waiting=rng.integers(0, 120, needs),
            key_household=rng.random(needs) < 0.1,
        ),
        offers=matching.Offers(
            ids=rng.permutation(offers) + 1,
            category=rng.choice(["goods", "health", "skills"], offers),
            region=region,
            capacity=rng.choice([1, 1, 2, 3, 5], offers),
            value_cap=[
                None if rng.random() < 0.4 else int(c)
                for c in rng.choice([5000, 20000, 80000], offers)
            ],
            donor_successes=rng.integers(0, 8, offers),
            donor_failures=rng.integers(0, 4, offers),
        ),
        params=matching.Parameters(probability_floor=0.6),
        model=matching.SuccessModel(
            segment_successes=rng.integers(0, 50, (3, 6)),
            segment_failures=rng.integers(0, 20, (3, 6)),
            categories=["goods", "health", "skills"],
        ),
    )

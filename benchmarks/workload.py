"""Seeded matching instances on real villages: Dongkou county, or a national sample of counties.

Calibrated on the Dongkou figures (shared/data/regions/README.md): 53,299 needs posted and
a 68.5% success rate; key households are 1,274 of 31,776 households (4%). Needs fall in six
categories, with values, urgency and waiting times drawn per category; offers prefer a
township, the county or anywhere (and, nationally, sometimes a whole province, as donors of
east-west pairing do), may cap the value they take per need at a round amount, and come from
donors with a record of ended pairings (a third are new). Needs are numbered in posting
order, so a first-come rule serves them by id.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

import matching

REPO = Path(__file__).resolve().parents[1]
SHARED_REGIONS = REPO.parent / "shared" / "data" / "regions"
BUNDLED_REGIONS = REPO / "app" / "regions" / "data"
DONGKOU = "430525"

CATEGORIES = ("goods", "schooling", "health", "employment", "service", "skills")
NEED_SHARE = np.array([0.30, 0.15, 0.15, 0.12, 0.18, 0.10])
OFFER_SHARE = np.array([0.34, 0.20, 0.10, 0.10, 0.16, 0.10])
# Median need value per category, in yuan; values are lognormal around it.
MEDIAN_YUAN = np.array([300, 1000, 2000, 500, 200, 800])
CAPACITIES = np.array([1, 2, 3, 5, 10, 20])
CAPACITY_SHARE = np.array([0.55, 0.15, 0.10, 0.10, 0.07, 0.03])
# Success-rate offsets by distance band (village .. farther) and category, around 0.685.
BAND_EFFECT = np.array([0.06, 0.04, 0.0, -0.03, -0.05, -0.08])
CATEGORY_EFFECT = np.array([0.03, 0.02, -0.04, -0.06, 0.02, -0.02])


@dataclass(frozen=True)
class Instance:
    """A matching problem with the model and parameters to solve it with."""

    name: str
    needs: matching.Needs
    offers: matching.Offers
    model: matching.SuccessModel
    params: matching.Parameters


def regions_file(name: str) -> Path:
    """A division file from ../shared (the full data), else the copy bundled with the app."""
    for folder in (SHARED_REGIONS, BUNDLED_REGIONS):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"{name} is in neither {SHARED_REGIONS} nor {BUNDLED_REGIONS}")


def dongkou_villages() -> npt.NDArray[np.str_]:
    """The 364 village codes of Dongkou county."""
    with regions_file("villages-430525.csv").open(encoding="utf-8") as handle:
        return np.array([row["code"] for row in csv.DictReader(handle)])


def national_villages() -> dict[str, npt.NDArray[np.str_]]:
    """Village codes of every county, from villages.csv.gz (620,573 villages)."""
    path = regions_file("villages.csv.gz")
    by_county: dict[str, list[str]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        code, county = header.index("code"), header.index("areaCode")
        for row in reader:
            by_county.setdefault(row[county], []).append(row[code])
    return {county: np.array(codes) for county, codes in by_county.items()}


def success_model(rng: np.random.Generator) -> matching.SuccessModel:
    """Segment counts of past pairings, a few hundred to a few thousand per segment."""
    rate = np.clip(matching.DONGKOU_RATE + CATEGORY_EFFECT[:, None] + BAND_EFFECT[None, :], 0, 1)
    trials = rng.integers(50, 3000, size=rate.shape)
    successes = rng.binomial(trials, rate)
    return matching.SuccessModel(
        segment_successes=successes,
        segment_failures=trials - successes,
        categories=CATEGORIES,
    )


def make_needs(
    rng: np.random.Generator, villages: npt.NDArray[np.str_], count: int, first_id: int = 1
) -> matching.Needs:
    """Needs over the villages (unequal sizes), numbered in posting order."""
    weight = np.asarray(rng.gamma(2.0, 1.0, villages.shape[0]))
    village = villages[rng.choice(villages.shape[0], count, p=weight / weight.sum())]
    category = rng.choice(len(CATEGORIES), count, p=NEED_SHARE)
    yuan = rng.lognormal(np.log(MEDIAN_YUAN[category]), 0.7)
    value = np.maximum(np.round(yuan / 10) * 10, 10).astype(np.int64) * 100
    # Oldest first: the first posted need has waited longest.
    days = np.sort(np.minimum(rng.exponential(30.0, count), 365).astype(np.int64))[::-1]
    return matching.Needs(
        ids=np.arange(first_id, first_id + count),
        category=np.array(CATEGORIES)[category],
        village=village,
        value=value,
        urgency=rng.choice([1, 2, 3], count, p=[0.55, 0.30, 0.15]),
        days_waiting=days,
        key_household=rng.random(count) < 1274 / 31776,
    )


def make_offers(
    rng: np.random.Generator,
    units: int,
    preference: Iterable[tuple[float, npt.NDArray[np.str_]]],
    first_id: int = 1,
) -> matching.Offers:
    """Offers totalling `units` capacity; each prefers a region drawn from `preference`.

    `preference` lists (share, candidate codes): with that share an offer prefers one code
    drawn from the candidates ("" means anywhere).
    """
    capacity = rng.choice(CAPACITIES, units, p=CAPACITY_SHARE)
    capacity = capacity[: int(np.searchsorted(np.cumsum(capacity), units)) + 1]
    capacity[-1] -= int(capacity.sum()) - units
    count = capacity.shape[0]
    shares, pools = zip(*preference, strict=True)
    kind = rng.choice(len(pools), count, p=np.array(shares) / sum(shares))
    region = np.empty(count, dtype="<U12")
    for index, pool in enumerate(pools):
        chosen = np.asarray(kind == index)
        region[chosen] = pool[rng.integers(0, pool.shape[0], int(chosen.sum()))]
    category = rng.choice(len(CATEGORIES), count, p=OFFER_SHARE)
    capped = np.asarray(rng.random(count) < 0.6)
    levels = np.array([0.5, 1, 2, 5])[rng.integers(0, 4, count)]
    cap = (MEDIAN_YUAN[category] * levels).astype(np.int64) * 100
    new = rng.random(count) < 1 / 3
    trials = np.where(new, 0, rng.geometric(1 / 6, count))
    successes = rng.binomial(trials, rng.beta(6.85, 3.15, count))
    return matching.Offers(
        ids=np.arange(first_id, first_id + count),
        category=np.array(CATEGORIES)[category],
        region=region,
        capacity=capacity,
        value_cap=[c if k else None for c, k in zip(cap.tolist(), capped.tolist(), strict=True)],
        donor_successes=successes,
        donor_failures=trials - successes,
    )


def parameters(**overrides: object) -> matching.Parameters:
    """The run parameters of the benchmarks: floor 0.5 leaves out donors with poor records."""
    values: dict[str, object] = {"probability_floor": 0.5, **overrides}
    return matching.Parameters(**values)  # type: ignore[arg-type]


def county(needs: int = 50_000, units: int = 20_000, seed: int = 0) -> Instance:
    """Dongkou county: offers prefer a township (45%), the county (40%) or anywhere (15%)."""
    rng = np.random.default_rng(seed)
    villages = dongkou_villages()
    townships = np.unique(np.array([code[:9] for code in villages]))
    return Instance(
        name=f"dongkou-{needs}x{units}",
        needs=make_needs(rng, villages, needs),
        offers=make_offers(
            rng,
            units,
            [(0.45, townships), (0.40, np.array([DONGKOU])), (0.15, np.array([""]))],
        ),
        model=success_model(rng),
        params=parameters(),
    )


def national(
    counties: int,
    needs_per_county: int = 10_000,
    units_per_county: int = 3_000,
    seed: int = 0,
    villages_by_county: dict[str, npt.NDArray[np.str_]] | None = None,
) -> Instance:
    """A national sample of counties, each with its own needs and pool.

    Offers prefer a township (45%) or the county (45%); 10% prefer the whole province, as
    east-west pairing donors do, which joins the sampled counties of a province into one
    block per category. No offer prefers "anywhere": that would join every county.
    """
    rng = np.random.default_rng(seed)
    by_county = national_villages() if villages_by_county is None else villages_by_county
    eligible = sorted(code for code, villages in by_county.items() if villages.shape[0] >= 20)
    chosen = rng.choice(np.array(eligible), counties, replace=False)
    needs_parts, offers_parts = [], []
    for index, code in enumerate(sorted(chosen.tolist())):
        villages = by_county[code]
        townships = np.unique(np.array([v[:9] for v in villages]))
        needs_parts.append(make_needs(rng, villages, needs_per_county, 1 + index * 10**7))
        offers_parts.append(
            make_offers(
                rng,
                units_per_county,
                [
                    (0.45, townships),
                    (0.45, np.array([code])),
                    (0.10, np.array([code[:2]])),
                ],
                1 + index * 10**7,
            )
        )
    return Instance(
        name=f"national-{counties}-counties",
        needs=concat_needs(needs_parts),
        offers=concat_offers(offers_parts),
        model=success_model(rng),
        params=parameters(),
    )


def concat_needs(parts: list[matching.Needs]) -> matching.Needs:
    return matching.Needs(
        ids=np.concatenate([p.ids for p in parts]),
        category=np.concatenate([p.category for p in parts]),
        village=np.concatenate([p.village for p in parts]),
        value=np.concatenate([p.value for p in parts]),
        urgency=np.concatenate([p.urgency for p in parts]),
        days_waiting=np.concatenate([p.days_waiting for p in parts]),
        key_household=np.concatenate([p.key_household for p in parts]),
    )


def concat_offers(parts: list[matching.Offers]) -> matching.Offers:
    return matching.Offers(
        ids=np.concatenate([p.ids for p in parts]),
        category=np.concatenate([p.category for p in parts]),
        region=np.concatenate([p.region for p in parts]),
        capacity=np.concatenate([p.capacity for p in parts]),
        value_cap=np.concatenate([p.value_cap for p in parts]),
        donor_successes=np.concatenate([p.donor_successes for p in parts]),
        donor_failures=np.concatenate([p.donor_failures for p in parts]),
    )

"""Simulation profiles: the size and make-up of a simulated county, and its hidden truth.

The ``dongkou`` profile is Dongkou county (430525) at the scale its reports give: 24 townships
and 364 villages (the real division codes), about 31,800 registered poor households and 53,300
needs a year (36,459 of 53,299 needs were met, 68.5%). The reports name four kinds of donor
(爱心人士 individuals, 爱心企业 enterprises, 社会组织 social organisations, 志愿服务队 volunteer
teams) without a published split; the mix below is this project's assumption, stated here so it
can be changed in one place. Volunteer teams register as ``organization`` donors.

The ground truth (`Truth`) decides what happens: whether a donor who holds a need delivers it,
whether a proposal is accepted, how long each step takes. The service never sees it; it only
sees the outcomes, as it would in a county.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

# Housing repair (危房改造) and industry (产业发展) are this project's assumption too: few,
# large needs, taken from the share of goods.
CATEGORY_SHARE = {
    "goods": 0.26,
    "schooling": 0.16,
    "health": 0.14,
    "employment": 0.12,
    "service": 0.14,
    "skills": 0.10,
    "housing": 0.03,
    "industry": 0.05,
}
# Typical value of a need of each category (fen); drawn log-normally around it, within the cap.
CATEGORY_VALUE = {
    "goods": 30_000,
    "schooling": 150_000,
    "health": 200_000,
    "employment": 50_000,
    "service": 20_000,
    "skills": 40_000,
    "housing": 1_500_000,
    "industry": 300_000,
}


@dataclass(frozen=True, slots=True)
class DonorKind:
    """One kind of donor: how many, and how they give."""

    name: str  # the account kind the service records
    count: int
    # Needs one donor takes on in a year (individuals claim them; the others give units).
    yearly_units: tuple[int, int]
    # Region the donor gives to: "township" (its own), "county" or "anywhere".
    reach: tuple[str, ...]
    # Whether the donor gives through the pool (offers) when the pool is matched.
    pools: bool


@dataclass(frozen=True, slots=True)
class Truth:
    """The hidden ground-truth model of outcomes (log-odds of a confirmed delivery)."""

    category_logit: dict[str, float] = field(
        default_factory=lambda: {
            "goods": 1.6,
            "schooling": 1.3,
            "health": 0.7,
            "employment": 0.3,
            "service": 1.0,
            "skills": 0.5,
            "housing": 0.2,
            "industry": 0.4,
        }
    )
    # By distance between the donor's home and the need's village: same township, same
    # county, farther.
    distance_logit: tuple[float, float, float] = (0.6, 0.0, -0.7)
    donor_spread: float = 0.9  # standard deviation of a donor's reliability (log-odds)
    waiting_logit_per_week: float = -0.05
    # Probability a proposal is accepted, by distance (the pool's donors have already
    # committed their gift); a proposal not accepted is declined or, as often, left unanswered
    # until it lapses.
    accept: tuple[float, float, float] = (0.95, 0.92, 0.88)
    # Share of the claims that would lapse in silence (the donor forgot, or let it slide) that a
    # reminder two days before the lapse turns into a delivery. No study of reminders to donors
    # was found; the figure is borrowed from health care, where reminders by text message cut
    # missed appointments by 23% (risk ratio 0.77, 95% CI 0.71-0.84; B. Tang, "Effect of SMS
    # reminders on attendance rates for healthcare appointments", J. Clin. Case Stud. Rev. Rep.
    # 4(217), 2022, a meta-analysis of 12 studies). Forgetting is the main reason given for
    # missed appointments, as it is assumed to be here for silent claims.
    reminder_effect: float = 0.23

    def success(self, category: str, distance: int, reliability: float, weeks: float) -> float:
        logit = (
            self.category_logit[category]
            + self.distance_logit[distance]
            + reliability
            + self.waiting_logit_per_week * weeks
        )
        return 1.0 / (1.0 + math.exp(-logit))


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    county: str
    townships: int | None  # the first N townships of the county; None for all
    households: int
    needs_per_year: int
    kinds: tuple[DonorKind, ...]
    # Share of an individual's claims made in its own township (the rest anywhere in the county).
    home_share: float = 0.6
    # Villages far from the roads: browsed less by individual donors.
    remote_share: float = 0.25
    remote_browse_weight: float = 0.3
    truth: Truth = field(default_factory=Truth)
    settle_days: int = 60  # after the last month, no new needs: open ones run their course


DONGKOU = Profile(
    name="dongkou",
    county="430525",
    townships=None,
    households=31_800,
    needs_per_year=53_300,
    kinds=(
        DonorKind("individual", 12_000, (1, 5), ("township", "county"), pools=False),
        DonorKind("enterprise", 320, (10, 60), ("county", "anywhere"), pools=True),
        DonorKind("organization", 160, (10, 50), ("county",), pools=True),
        DonorKind("organization", 200, (5, 30), ("township",), pools=True),  # volunteer teams
    ),
)

SMALL = Profile(
    name="small",
    county="430525",
    townships=2,
    households=400,
    needs_per_year=900,
    kinds=(
        DonorKind("individual", 200, (1, 5), ("township", "county"), pools=False),
        DonorKind("enterprise", 6, (10, 30), ("county", "anywhere"), pools=True),
        DonorKind("organization", 4, (5, 20), ("county",), pools=True),
        DonorKind("organization", 4, (5, 15), ("township",), pools=True),
    ),
)

PROFILES = {profile.name: profile for profile in (DONGKOU, SMALL)}


def scaled(profile: Profile, scale: float) -> Profile:
    """``profile`` with its households, needs and each kind of donor shrunk (or grown) by
    ``scale``, over the same townships and villages: a quicker run of the same county, for
    measuring. A scale of 1 is the profile itself."""
    if scale == 1:
        return profile
    if scale <= 0:
        raise ValueError(f"scale must be positive, not {scale}")
    return dataclasses.replace(
        profile,
        name=f"{profile.name}×{scale:g}",
        households=max(1, round(profile.households * scale)),
        needs_per_year=max(1, round(profile.needs_per_year * scale)),
        kinds=tuple(
            dataclasses.replace(kind, count=max(1, round(kind.count * scale)))
            for kind in profile.kinds
        ),
    )

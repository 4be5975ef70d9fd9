"""Second algorithms for the matching tests: feasibility, milp and exhaustive search.

Written independently of the engine: pairs are judged with string prefixes and the public
`distance_band` per pair (the engine uses integer codes and the band of the preference), and
optima come from scipy.optimize.milp or from enumerating every assignment.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

import matching


@dataclass(frozen=True)
class Pairs:
    """Feasible (need, offer) pairs at offer level with their scores and probabilities."""

    need: np.ndarray
    offer: np.ndarray
    score: np.ndarray
    probability: np.ndarray


@dataclass(frozen=True)
class Optimum:
    matched: int
    objective: float


def feasible_pairs(
    needs: matching.Needs,
    offers: matching.Offers,
    params: matching.Parameters,
    model: matching.SuccessModel,
) -> Pairs:
    need_list, offer_list = [], []
    for i, j in itertools.product(range(len(needs)), range(len(offers))):
        if (
            needs.category[i] == offers.category[j]
            and str(needs.village[i]).startswith(str(offers.region[j]))
            and needs.value[i] <= offers.value_cap[j]
        ):
            need_list.append(i)
            offer_list.append(j)
    need = np.array(need_list, dtype=np.intp)
    offer = np.array(offer_list, dtype=np.intp)
    if need.size == 0:
        empty = np.zeros(0)
        return Pairs(need, offer, empty, empty)
    band = matching.distance_band(needs.village[need], offers.region[offer])
    probability = model.probability(
        offers.category[offer], band, offers.donor_successes[offer], offers.donor_failures[offer]
    )
    keep = probability >= params.probability_floor
    score = params.priority(needs)[need] + np.log(probability)
    return Pairs(need[keep], offer[keep], score[keep], probability[keep])


def milp_optimum(pairs: Pairs, n_needs: int, capacity: np.ndarray) -> Optimum:
    """Most pairs, then the best total score, by two integer programs."""
    n = pairs.need.shape[0]
    if n == 0:
        return Optimum(0, 0.0)
    columns = np.arange(n)
    by_need = csr_array((np.ones(n), (pairs.need, columns)), shape=(n_needs, n))
    by_offer = csr_array((np.ones(n), (pairs.offer, columns)), shape=(capacity.shape[0], n))
    constraints = [LinearConstraint(by_need, 0, 1), LinearConstraint(by_offer, 0, capacity)]
    options = {"mip_rel_gap": 0.0}
    first = milp(
        -np.ones(n),
        constraints=constraints,
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options=options,
    )
    count = round(-first.fun)
    constraints.append(LinearConstraint(np.ones((1, n)), count, count))
    second = milp(
        -pairs.score,
        constraints=constraints,
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options=options,
    )
    chosen = second.x > 0.5
    return Optimum(int(chosen.sum()), math.fsum(pairs.score[chosen].tolist()))


def exhaustive_optimum(pairs: Pairs, n_needs: int, capacity: np.ndarray) -> Optimum:
    """Every assignment of needs to feasible offers (or none); for a handful of needs."""
    options: list[list[tuple[int, float]]] = [[(-1, 0.0)] for _ in range(n_needs)]
    for need, offer, score in zip(pairs.need, pairs.offer, pairs.score, strict=True):
        options[int(need)].append((int(offer), float(score)))
    best = (0, -math.inf)
    for choice in itertools.product(*options):
        used = np.bincount(
            [offer for offer, _ in choice if offer >= 0], minlength=capacity.shape[0]
        )
        if (used > capacity).any():
            continue
        value = (
            sum(1 for offer, _ in choice if offer >= 0),
            math.fsum(score for offer, score in choice if offer >= 0),
        )
        best = max(best, value)
    return Optimum(best[0], best[1] if best[0] else 0.0)

"""Exact decomposition into independent blocks, without enumerating pairs.

Offers are grouped by (category, region preference). A need belongs to the groups of its
category whose preference is a prefix of its village code: at most one per preference length
(0, 2, 4, 6, 9, 12 digits), found by binary search. Within a group the feasible needs of an
offer are the group's needs whose value is within the offer's cap, so the group's largest-cap
offer ("top") reaches a superset of what every other offer of the group reaches. The
components of the graph with the edges

* need -- top offer of each of its groups, when the value is within the top offer's cap, and
* offer -- top offer of its group, when the offer can serve some need of the group,

are therefore exactly the components of the feasibility graph: every edge above joins nodes
that are connected by feasible pairs, and every feasible pair (need, offer) is joined through
the need's edge to the top offer and the offer's edge to it. The graph has at most
6 * needs + offers edges, whatever the number of feasible pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from matching._problem import PREFERENCE_LENGTHS, VILLAGE_DIGITS

IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]

_LENGTH_STRIDE = np.int64(10**VILLAGE_DIGITS)
_CATEGORY_STRIDE = np.int64(13) * _LENGTH_STRIDE


@dataclass(frozen=True, slots=True)
class Block:
    """One independent block, self-contained (block-local indices), so it can be shipped."""

    needs: IndexArray  # canonical need indices, ascending
    offers: IndexArray  # canonical offer indices, ascending
    need_value: IntArray
    need_priority: FloatArray
    offer_cap: IntArray
    offer_units: IntArray
    offer_log_probability: FloatArray
    offer_group: IndexArray  # local group of each offer
    group_lo: IntArray  # smallest village code of the group's region
    group_hi: IntArray  # one past the largest
    hit_need: IndexArray  # (need, group) memberships, sorted by (group, need): local need
    hit_group: IndexArray  # ... and local group


def group_key(category: IndexArray, code: IntArray, length: IntArray) -> IntArray:
    """An int64 key ordering groups by (category, preference length, preference)."""
    return (
        category.astype(np.int64) * _CATEGORY_STRIDE
        + length.astype(np.int64) * _LENGTH_STRIDE
        + code.astype(np.int64)
    )


def decompose(
    need_category: IndexArray,
    need_code: IntArray,
    need_value: IntArray,
    need_priority: FloatArray,
    offer_category: IndexArray,
    offer_code: IntArray,
    offer_length: IntArray,
    offer_cap: IntArray,
    offer_units: IntArray,
    offer_log_probability: FloatArray,
    offer_active: npt.NDArray[np.bool_],
) -> list[Block]:
    """Split the feasibility graph into its connected components (see the module notes)."""
    n_needs = need_category.shape[0]
    n_offers = offer_category.shape[0]
    active = np.flatnonzero(offer_active)
    keys = group_key(offer_category[active], offer_code[active], offer_length[active])
    group_keys, group_of_active = np.unique(keys, return_inverse=True)
    n_groups = group_keys.shape[0]
    group_of_offer = np.full(n_offers, -1, dtype=np.intp)
    group_of_offer[active] = group_of_active

    lengths = (group_keys % _CATEGORY_STRIDE) // _LENGTH_STRIDE
    scale = 10 ** (VILLAGE_DIGITS - lengths)
    group_lo = (group_keys % _LENGTH_STRIDE) * scale
    group_hi = group_lo + scale

    # The top offer of each group: largest cap, then smallest canonical index.
    by_group = np.lexsort((active, -offer_cap[active], group_of_active))
    first = np.ones(active.shape[0], dtype=bool)
    first[1:] = group_of_active[by_group][1:] != group_of_active[by_group][:-1]
    top = np.empty(n_groups, dtype=np.intp)
    top[group_of_active[by_group][first]] = active[by_group][first]
    top_cap = offer_cap[top]

    # Memberships (need, group): the need's village lies in the group's region.
    hit_needs_parts = []
    hit_groups_parts = []
    for length in PREFERENCE_LENGTHS:
        prefix = need_code // np.int64(10 ** (VILLAGE_DIGITS - length))
        wanted = group_key(need_category, prefix, np.full(n_needs, length, dtype=np.int64))
        position = np.searchsorted(group_keys, wanted)
        found = position < n_groups
        found[found] = group_keys[position[found]] == wanted[found]
        hit_needs_parts.append(np.flatnonzero(found))
        hit_groups_parts.append(position[found])
    hit_needs = np.concatenate(hit_needs_parts).astype(np.intp)
    hit_groups = np.concatenate(hit_groups_parts).astype(np.intp)

    # Keep the memberships where some offer of the group can take the need.
    feasible = need_value[hit_needs] <= top_cap[hit_groups]
    hit_needs, hit_groups = hit_needs[feasible], hit_groups[feasible]
    group_min = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(group_min, hit_groups, need_value[hit_needs])
    connected = active[group_min[group_of_active] <= offer_cap[active]]

    rows = np.concatenate([hit_needs, n_needs + connected])
    cols = np.concatenate([n_needs + top[hit_groups], n_needs + top[group_of_offer[connected]]])
    size = n_needs + n_offers
    # scipy is imported when a problem is solved, not with the package: the service imports
    # matching at start for its success model, and would otherwise load scipy (a second).
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    graph = coo_array(
        (np.ones(rows.shape[0], dtype=np.int8), (rows, cols)), shape=(size, size)
    ).tocsr()
    _, labels = connected_components(graph, directed=False)

    need_label = labels[:n_needs]
    offer_label = labels[n_needs + connected]
    hit_label = labels[n_needs + top[hit_groups]]
    block_labels = np.intersect1d(np.unique(offer_label), np.unique(need_label[hit_needs]))
    member_needs = np.flatnonzero(np.isin(need_label, block_labels))
    needs_of = _split(member_needs, need_label[member_needs], block_labels)
    offers_of = _split(connected, offer_label, block_labels)
    keep = np.isin(hit_label, block_labels)
    hit_needs, hit_groups, hit_label = hit_needs[keep], hit_groups[keep], hit_label[keep]
    order = np.lexsort((hit_needs, hit_groups, hit_label))
    hit_needs, hit_groups, hit_label = hit_needs[order], hit_groups[order], hit_label[order]
    hit_bounds = np.searchsorted(hit_label, block_labels, side="left")
    hit_ends = np.searchsorted(hit_label, block_labels, side="right")

    blocks = []
    for index in range(block_labels.shape[0]):
        needs, offers = needs_of[index], offers_of[index]
        groups = np.unique(group_of_offer[offers])
        block_hits = slice(hit_bounds[index], hit_ends[index])
        blocks.append(
            Block(
                needs=needs,
                offers=offers,
                need_value=need_value[needs],
                need_priority=need_priority[needs],
                offer_cap=offer_cap[offers],
                offer_units=offer_units[offers],
                offer_log_probability=offer_log_probability[offers],
                offer_group=np.searchsorted(groups, group_of_offer[offers]),
                group_lo=group_lo[groups],
                group_hi=group_hi[groups],
                hit_need=np.searchsorted(needs, hit_needs[block_hits]),
                hit_group=np.searchsorted(groups, hit_groups[block_hits]),
            )
        )
    return blocks


def _split(
    values: IndexArray, owner: npt.NDArray[np.int32], labels: npt.NDArray[np.int32]
) -> list[IndexArray]:
    """``values`` of each label in ``labels`` (ascending values), dropping other owners."""
    keep = np.isin(owner, labels)
    values, owner = values[keep], owner[keep]
    order = np.lexsort((values, owner))
    values, owner = values[order], owner[order]
    starts = np.searchsorted(owner, labels, side="left")
    ends = np.searchsorted(owner, labels, side="right")
    return [values[a:b] for a, b in zip(starts, ends, strict=True)]

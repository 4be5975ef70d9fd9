"""One block: its candidate pairs and their assignment, dense or sparse.

Why the costs below give the lexicographic optimum (most needs, then the largest total score)
--------------------------------------------------------------------------------------------
1. *The score separates.* A feasible pair's need village starts with the offer's preference, so
   their longest common prefix is the preference itself and the distance band is the
   preference's level: the predicted probability depends on the offer alone. Hence
   ``score(i, j) = a_i + b_j`` with ``a`` the need's priority and ``b = log p`` of the offer.
2. *Only the orders of a and b matter.* The sets of needs (units) covered by matchings of the
   largest size are the bases of a transversal matroid; a matching of that size has score
   ``a(needs) + b(units)``, and by the Mendelsohn-Dulmage theorem a largest matching can cover
   any basis of the one side together with any basis of the other. So a largest matching is
   optimal iff its need set is a maximum-``a`` basis and its unit set a maximum-``b`` basis,
   and which bases those are depends only on the order of the weights (ties included): the
   matroid greedy algorithm never looks at the values. We therefore solve with the dense ranks
   ``ra`` and ``rb`` (equal values, equal ranks) as small integer weights. That is exact, is
   exact in float64 arithmetic too, and the many exact ties let the shortest-augmenting-path
   solvers stop early: several times faster than on the raw float scores.
3. *Cardinality first, without dummy columns.* With ``R = max(ra) + max(rb)`` and
   ``BIG = rows * R + 1``, a candidate pair costs ``-(BIG + ra + rb)`` and every other entry
   costs 0. Any matching extends to a full assignment of the smaller side (rows <= columns)
   by filling with zero entries, so the assignment minimum is
   ``-max_M (|M| * BIG + w(M))``; one more pair is worth at least BIG > (|M| - 1) * R, more
   than any difference in ``w`` between matchings, so the minimum has the largest size and,
   among those, the largest rank weight. Zero entries in the result are dropped: they are not
   pairs.
4. *Candidate pruning.* A unit of an offer needs only the ``K`` best needs (by rank, ties by
   canonical order) of its feasible set, where ``K`` is the number of units that could reach
   any need of that set (units of the block whose preference region meets the offer's). If an
   optimal solution gave the unit a need below its first K, one of those K is free (only K - 1
   other units can hold them) and moving the unit to it keeps the size and does not lower the
   weight; repeating ends with every unit on a kept pair. So some optimum uses kept pairs only.

The dense path gives `scipy.optimize.linear_sum_assignment` the full matrix of note 3 (units,
or needs if fewer, on the rows). The sparse path solves the same problem with
`scipy.sparse.csgraph.min_weight_full_bipartite_matching` on the kept pairs only: a kept pair
costs ``top - (BIG + ra + rb)`` and each row has its own slack column costing ``top`` (the
zero entry of note 3, shifted by ``top``, which exceeds every weight), so a full matching
always exists and the minimum is the same.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from matching._blocks import Block

IntArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]
Ints = npt.NDArray[np.integer[Any]]  # int32 or int64, whichever the sizes allow


@dataclass(frozen=True, slots=True)
class BlockSolution:
    """The pairs of one block (canonical indices) and how they were found."""

    needs: IndexArray
    offers: IndexArray
    path: str
    units: int
    candidates: int
    solver_seconds: float
    seconds: float


def ranges(starts: Ints, counts: Ints) -> Ints:
    """Concatenated ``arange(start, start + count)`` for each pair, without a Python loop.

    int32 when the values fit, to halve the memory of the large index arrays.
    """
    total = int(counts.sum())
    dtype = np.int32 if total + int(starts.max(initial=0)) < 2**31 else np.int64
    if total == 0:
        return np.zeros(0, dtype=dtype)
    offsets = np.cumsum(counts) - counts
    result: Ints = np.arange(total, dtype=dtype)
    result += np.repeat((starts - offsets).astype(dtype), counts)
    return result


def dense_rank(values: FloatArray) -> IntArray:
    """0 for the smallest value, 1 for the next distinct one, ...; equal values share a rank."""
    _, inverse = np.unique(values, return_inverse=True)
    return inverse.astype(np.int64).reshape(values.shape)


def solve_block(block: Block, memory_budget: int) -> BlockSolution:
    """Candidate pairs of one block, assigned densely or on sparse edges within the budget."""
    started = time.perf_counter()
    units = block.offer_units
    n_offers = units.shape[0]
    rank_a = dense_rank(block.need_priority)
    rank_b = dense_rank(block.offer_log_probability)
    offer_ptr, edge_need = _candidates(block, rank_a)
    edge_offer = np.repeat(np.arange(n_offers, dtype=np.int32), np.diff(offer_ptr))

    # Columns: the needs that are some unit's candidate, in canonical order.
    present = np.bincount(edge_need, minlength=block.needs.shape[0]) > 0
    used = np.flatnonzero(present)
    edge_col = (np.cumsum(present, dtype=np.int32) - 1)[edge_need]
    del edge_need
    n_units = int(units.sum())
    n_cols = used.shape[0]
    big = min(n_units, n_cols) * int(rank_a.max() + rank_b.max()) + 1
    weight = big + rank_a[used][edge_col] + rank_b[edge_offer]
    dense = n_units * n_cols * 8 <= memory_budget
    if dense:
        offer, col, solver_seconds = _dense(edge_offer, edge_col, weight, units, n_cols)
    else:
        del edge_offer
        offer, col, solver_seconds = _sparse(offer_ptr, edge_col, weight, units, n_cols)
    return BlockSolution(
        needs=block.needs[used[col]],
        offers=block.offers[offer],
        path="dense" if dense else "sparse",
        units=n_units,
        candidates=int(units @ np.diff(offer_ptr)),
        solver_seconds=solver_seconds,
        seconds=time.perf_counter() - started,
    )


def _candidates(block: Block, rank_a: IntArray) -> tuple[IntArray, Ints]:
    """Kept needs of each offer of the block (see note 4), as CSR over the block's offers.

    Returns ``ptr`` (offer o's candidates are ``needs[ptr[o]:ptr[o + 1]]``) and ``needs``
    (block-local need indices).
    """
    n_offers = block.offer_units.shape[0]
    n_groups = block.group_lo.shape[0]
    # Units that could compete for a group's needs: those of groups whose regions meet it.
    lo, hi = block.group_lo, block.group_hi
    group_units = np.bincount(block.offer_group, weights=block.offer_units, minlength=n_groups)
    meets = (lo[:, None] < hi[None, :]) & (lo[None, :] < hi[:, None])
    competing = (meets.astype(np.float64) @ group_units).astype(np.int64)

    hit_bounds = np.searchsorted(block.hit_group, np.arange(n_groups + 1))
    by_group = np.lexsort((np.arange(n_offers), block.offer_group))
    offer_bounds = np.searchsorted(block.offer_group[by_group], np.arange(n_groups + 1))

    # Each group adds lists of needs to a pool; an offer's candidates are a slice of it.
    pool: list[IntArray] = []
    pool_size = 0
    start = np.zeros(n_offers, dtype=np.int64)
    count = np.zeros(n_offers, dtype=np.int64)
    for g in range(n_groups):
        needs = block.hit_need[hit_bounds[g] : hit_bounds[g + 1]]
        group_offers = by_group[offer_bounds[g] : offer_bounds[g + 1]]
        caps = block.offer_cap[group_offers]
        values = block.need_value[needs]
        keep = int(competing[g])
        if keep >= needs.shape[0]:
            # Every feasible need is kept: a prefix of the needs in value order.
            order = np.argsort(values, kind="stable")
            pool.append(needs[order])
            count[group_offers] = np.searchsorted(values[order], caps, side="right")
            start[group_offers] = pool_size
            pool_size += needs.shape[0]
        else:
            # The best `keep` feasible needs by rank (ties: canonical order), per distinct cap.
            order = np.lexsort((needs, -rank_a[needs]))
            best, best_values = needs[order], values[order]
            distinct, which = np.unique(caps, return_inverse=True)
            lists = [best[best_values <= cap][:keep] for cap in distinct.tolist()]
            sizes = np.array([part.shape[0] for part in lists], dtype=np.int64)
            pool.extend(lists)
            count[group_offers] = sizes[which]
            start[group_offers] = pool_size + (np.cumsum(sizes) - sizes)[which]
            pool_size += int(sizes.sum())
    needs_pool = np.concatenate(pool).astype(np.int32)
    ptr = np.concatenate([[0], np.cumsum(count)]).astype(np.int64)
    return ptr, needs_pool[ranges(start, count)]


def _dense(
    edge_offer: npt.NDArray[np.int32],
    edge_col: npt.NDArray[np.int32],
    weight: IntArray,
    units: IntArray,
    n_cols: int,
) -> tuple[IntArray, IntArray, float]:
    """linear_sum_assignment on the full matrix (note 3); returns (offer, need column) pairs."""
    per_offer = np.zeros((units.shape[0], n_cols), dtype=np.float64)
    per_offer[edge_offer, edge_col] = -weight
    units_on_rows = int(units.sum()) <= n_cols
    if units_on_rows:
        cost = np.repeat(per_offer, units, axis=0)
    else:
        cost = np.repeat(per_offer.T, units, axis=1)
    del per_offer
    from scipy.optimize import linear_sum_assignment  # see _blocks.decompose

    started = time.perf_counter()
    rows, cols = linear_sum_assignment(cost)
    seconds = time.perf_counter() - started
    real = cost[rows, cols] < 0
    rows, cols = rows[real], cols[real]
    unit_offer = np.repeat(np.arange(units.shape[0]), units)
    if units_on_rows:
        return unit_offer[rows], cols, seconds
    return unit_offer[cols], rows, seconds


def _sparse(
    offer_ptr: IntArray,
    edge_col: npt.NDArray[np.int32],
    weight: IntArray,
    units: IntArray,
    n_cols: int,
) -> tuple[IntArray, IntArray, float]:
    """min_weight_full_bipartite_matching on the candidates plus one slack edge per row."""
    from scipy.sparse import csr_array  # see _blocks.decompose
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    # Positive costs: top - weight for a candidate, top for the slack (integers, exact in
    # float64). float64 and int32 indices are what scipy uses inside: other types would be
    # converted, and a float32 input would also be sorted and deduplicated on the way.
    top = int(weight.max()) + 1
    cost_type = np.float64
    n_units = int(units.sum())
    n_offers = units.shape[0]
    unit_offer = np.repeat(np.arange(n_offers), units)
    if n_units <= n_cols:
        # Rows are units. Each offer's row template is its candidates and a slack slot, and
        # each unit of the offer repeats it. Rows go by capacity c, then copy (0..c-1), then
        # offer, so that the c copies of a class's templates are one broadcast assignment.
        length = np.diff(offer_ptr) + 1
        template_start = offer_ptr[:-1] + np.arange(n_offers)
        slots = int(offer_ptr[-1]) + n_offers
        is_edge = np.ones(slots, dtype=bool)
        is_edge[template_start + length - 1] = False
        template_col = np.zeros(slots, dtype=np.int32)
        template_col[is_edge] = edge_col
        template_cost = np.full(slots, top, dtype=cost_type)
        template_cost[is_edge] = top - weight
        del is_edge
        total = int(units @ length)
        indices = np.empty(total, dtype=np.int32)
        costs = np.empty(total, dtype=cost_type)
        row_offer = np.repeat(np.arange(n_offers), units)
        row_length = length[row_offer]
        indptr = np.concatenate([[0], np.cumsum(row_length)])
        # Offers of one unit: their templates in one gather. Larger offers: one broadcast each.
        single = units == 1
        rows = np.flatnonzero(single[row_offer])
        take = ranges(template_start[single], length[single])
        where = ranges(indptr[rows], row_length[rows])
        indices[where] = template_col[take]
        costs[where] = template_cost[take]
        del take, where
        first_row = np.cumsum(units) - units
        for offer in np.flatnonzero(~single).tolist():
            size = int(length[offer])
            start = int(template_start[offer])
            copies = int(units[offer])
            block = slice(
                int(indptr[first_row[offer]]), int(indptr[first_row[offer]]) + copies * size
            )
            indices[block].reshape(copies, size)[:] = template_col[start : start + size]
            costs[block].reshape(copies, size)[:] = template_cost[start : start + size]
        del template_col, template_cost
        indices[indptr[1:] - 1] = n_cols + np.arange(n_units, dtype=np.int32)
        n_rows, n_real = n_units, n_cols
    else:
        # Rows are needs (more units than candidate needs): unit-level edges sorted by need.
        row_offer = unit_offer
        edge_offer = np.repeat(np.arange(n_offers), np.diff(offer_ptr))
        unit_start = np.cumsum(units) - units
        per_edge = units[edge_offer]
        edge_of = np.repeat(np.arange(edge_col.shape[0]), per_edge)
        unit = ranges(unit_start[edge_offer], per_edge)
        need = edge_col[edge_of]
        order = np.lexsort((unit, need))
        need, unit, edge_of = need[order], unit[order], edge_of[order]
        row_length = np.bincount(need, minlength=n_cols) + 1
        indptr = np.concatenate([[0], np.cumsum(row_length)])
        slack = indptr[1:] - 1
        is_edge = np.ones(int(indptr[-1]), dtype=bool)
        is_edge[slack] = False
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        costs = np.full(int(indptr[-1]), top, dtype=cost_type)
        indices[is_edge] = unit
        costs[is_edge] = top - weight[edge_of]
        indices[slack] = n_units + np.arange(n_cols, dtype=np.int32)
        n_rows, n_real = n_cols, n_units
    index_type = np.int32 if indptr[-1] < 2**31 else np.int64
    holder = [
        csr_array(
            (costs, indices.astype(index_type, copy=False), indptr.astype(index_type)),
            shape=(n_rows, n_real + n_rows),
        )
    ]
    del costs, indices, indptr
    started = time.perf_counter()
    # scipy copies the graph first thing; handing it over through `holder` leaves scipy the
    # only reference, so our copy is freed as soon as its own exists (half the peak memory).
    rows, cols = min_weight_full_bipartite_matching(holder.pop())
    seconds = time.perf_counter() - started
    matched = cols < n_real
    rows, cols = rows[matched], cols[matched]
    if n_units <= n_cols:
        return row_offer[rows], cols, seconds
    return row_offer[cols], rows, seconds

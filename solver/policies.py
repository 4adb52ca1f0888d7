"""Allocation policies and order smoothing as rows of the MIP (spec §Allocation policies).

The policies are constraints of the one model, not post-processing, so the
objective stays the plan's cost and the bound stays a bound on that cost:

* ``priority``: a lower-priority line may take a unit at warehouse ``l`` in period
  ``t`` only if every higher-priority line of the SKU that could take it instead
  (``t`` in its window, allowed to ship from ``l``) is whole by ``max(t, d)``.
  One binary ``z[A, τ]`` per higher line ``A`` and period ``τ``: ``z = 1`` needs
  ``A`` whole by ``τ``; lower lines' units that ``A`` could take with ``τ = max(t, d_A)``
  need ``z = 1``.
* ``fair_share``: among equal lines (same SKU, priority, earliest period and
  allowed warehouses, so any unit one got the other could have got), at every
  period ``t`` where they compete (``d ≤ t ≤ ℓ``) there is a level ``λ`` with
  ``q_i λ ≤ D_i(t) ≤ q_i λ + 1``: no unit can move from one line to another to
  raise the smaller fill fraction — the water-filling (max-min) allocation of
  what the group receives.
* ``priority_fair_share`` (extension): both sets of rows; fair-share groups are
  already within one priority level.
* Fair-share ties (extension, under ``priority_fair_share`` always, under
  ``fair_share`` when an order carries ``ordered``): of two equal lines the older
  order ``i`` (then the smaller id) must not be left where a unit could move to it
  from the younger ``j`` and keep the split fair, i.e. ``D_i/q_i > (D_j - 1)/q_j``,
  in integers ``q_j D_i - q_i D_j ≥ 1 - q_i`` (equal quantities: ``D_i ≥ D_j``).
* Order smoothing (extension): ``|q_a(t) - q_a(t-1)| ≤ max_change_per_period``.

Lines of ship-complete orders are left out of both policies: moving one unit to
or from them is never a feasible swap. The delivery columns of lines a policy
touches are declared integer, because the policy rows break the network
structure that makes the flows integral at every vertex.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from stockplan.models.problem import Policy, Problem
from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.mip import INF, MipModel, ModelAssembler


@dataclass
class DeliveryColumns:
    """Every column that delivers units to a line: shipments (``loc >= 0``) and dropships (``loc = -1``)."""

    col: np.ndarray
    line: np.ndarray
    t: np.ndarray  # period the units reach the line
    loc: np.ndarray


@dataclass
class PolicyMap:
    """Where the policy columns and rows are, to fill them in for a warm start."""

    z_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    z_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # "whole by τ" row of each z
    z_qty: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lam_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    fs_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    fs_lam: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # position in lam_cols
    fs_qty: np.ndarray = field(default_factory=lambda: np.zeros(0))
    integer_cols: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def competing_lines(ix: ProblemIndex) -> np.ndarray:
    """Lines a policy compares: not ship-complete, with a non-empty window."""
    return ~ix.line_complete & (ix.line_first <= ix.line_last)


def add_policy_rows(
    asm: ModelAssembler, ix: ProblemIndex, dc: DeliveryColumns, all_integer: bool = False
) -> PolicyMap:
    """Add the rows of ``settings.policy`` (nothing for ``min_cost``).

    ``all_integer`` (CP-SAT) states fair share pairwise, without the fractional level.
    """
    policy = ix.problem.settings.policy
    maps = []
    if policy in (Policy.PRIORITY, Policy.PRIORITY_FAIR_SHARE):
        maps.append(_priority_rows(asm, ix, dc))
    if policy in (Policy.FAIR_SHARE, Policy.PRIORITY_FAIR_SHARE):
        rank = order_age_rank(ix.problem) if ties_go_to_older_orders(ix.problem) else None
        maps.append(_fair_share_rows(asm, ix, dc, all_integer, rank))
    return _merged(maps)


def ties_go_to_older_orders(problem: Problem) -> bool:
    """Whether fair-share ties follow order age: always under ``priority_fair_share``, under
    ``fair_share`` only when some order says when it was placed (a problem written to the
    spec keeps the spec's "within that, minimum cost")."""
    policy = problem.settings.policy
    return policy == Policy.PRIORITY_FAIR_SHARE or (
        policy == Policy.FAIR_SHARE and any(o.ordered is not None for o in problem.orders))


def order_age_rank(problem: Problem) -> np.ndarray:
    """Each order's place in the queue for ties: oldest ``ordered`` first, undated orders after
    every dated one, then the smaller id."""
    key = sorted(range(len(problem.orders)), key=lambda o: (
        problem.orders[o].ordered is None, problem.orders[o].ordered or date.min, problem.orders[o].id))
    rank = np.empty(len(problem.orders), np.int64)
    rank[np.asarray(key, np.int64)] = np.arange(len(key))
    return rank


def _merged(maps: list[PolicyMap]) -> PolicyMap:
    """One map of several policies' columns (each map fills either the z or the λ fields)."""
    if not maps:
        return PolicyMap()
    if len(maps) == 1:
        return maps[0]
    z = next((m for m in maps if m.z_cols.size), PolicyMap())
    lam = next((m for m in maps if m.lam_cols.size), PolicyMap())
    return PolicyMap(z_cols=z.z_cols, z_rows=z.z_rows, z_qty=z.z_qty, lam_cols=lam.lam_cols, fs_rows=lam.fs_rows,
                     fs_lam=lam.fs_lam, fs_qty=lam.fs_qty,
                     integer_cols=np.unique(np.concatenate([m.integer_cols for m in maps])))


def _columns_by_line(ix: ProblemIndex, dc: DeliveryColumns) -> tuple[np.ndarray, np.ndarray]:
    """Delivery columns sorted by line, and the start of each line's run (``n_lines + 1`` offsets)."""
    order = np.argsort(dc.line, kind="stable")
    starts = np.searchsorted(dc.line[order], np.arange(ix.n_lines + 1))
    return order, starts


def _priority_rows(asm: ModelAssembler, ix: ProblemIndex, dc: DeliveryColumns) -> PolicyMap:
    eligible = competing_lines(ix)
    by_line, starts = _columns_by_line(ix, dc)
    z_line: list[int] = []
    z_tau: list[int] = []
    low_row: list[np.ndarray] = []  # per z: the lower lines' columns A could take
    for k in np.unique(ix.line_sku[eligible]):
        lines = np.flatnonzero(eligible & (ix.line_sku == k))
        prios = ix.line_priority[lines]
        if prios.min() == prios.max():
            continue
        cols = np.concatenate([by_line[starts[i]:starts[i + 1]] for i in lines])
        c_line, c_t, c_loc = dc.line[cols], dc.t[cols], dc.loc[cols]
        c_prio = ix.line_priority[c_line]
        for a in lines[prios < prios.max()]:
            reach = (ix.allowed[a, np.maximum(c_loc, 0)] | (c_loc < 0))
            mask = (c_prio > ix.line_priority[a]) & (c_t >= ix.line_first[a]) & (c_t <= ix.line_last[a]) & reach
            if not mask.any():
                continue
            tau = np.maximum(c_t[mask], ix.line_due[a])
            for t in np.unique(tau):
                z_line.append(int(a))
                z_tau.append(int(t))
                low_row.append(cols[mask][tau == t])
    if not z_line:
        return PolicyMap()
    zl, zt = np.asarray(z_line), np.asarray(z_tau)
    z_cols = asm.add_columns("z_priority", np.zeros(zl.shape[0]), 0.0, 1.0, integer=True)
    # Lower lines' units need z = 1; the big M is what those lines can receive at all.
    n_low = np.array([r.shape[0] for r in low_row])
    low_cols = np.concatenate(low_row)
    row_of = np.repeat(np.arange(zl.shape[0]), n_low)
    pairs = np.unique(np.stack([row_of, dc.line[np.searchsorted(dc.col, low_cols)]]), axis=1)
    big_m = np.bincount(pairs[0], weights=ix.line_qty[pairs[1]], minlength=zl.shape[0])
    lower = asm.add_rows("priority_lower_waits", -INF, 0.0, zl.shape[0])
    asm.add_coefficients(lower[row_of], low_cols, 1.0)
    asm.add_coefficients(lower, z_cols, -big_m)
    # z = 1 only if the higher line is whole by τ.
    whole = asm.add_rows("priority_higher_whole", 0.0, INF, zl.shape[0])
    own_rows, own_cols = [], []
    for r, (a, t) in enumerate(zip(zl, zt, strict=True)):
        cols = by_line[starts[a]:starts[a + 1]]
        cols = cols[dc.t[cols] <= t]
        own_rows.append(np.full(cols.shape[0], whole[r]))
        own_cols.append(dc.col[cols])
    asm.add_coefficients(np.concatenate(own_rows), np.concatenate(own_cols), 1.0)
    asm.add_coefficients(whole, z_cols, -ix.line_qty[zl].astype(float))
    touched = np.isin(dc.line, np.concatenate([zl, dc.line[np.searchsorted(dc.col, low_cols)]]))
    return PolicyMap(z_cols=z_cols, z_rows=whole, z_qty=ix.line_qty[zl].astype(float),
                     integer_cols=dc.col[touched])


def _fair_share_rows(asm: ModelAssembler, ix: ProblemIndex, dc: DeliveryColumns, pairwise: bool,
                     rank: np.ndarray | None = None) -> PolicyMap:
    eligible = np.flatnonzero(competing_lines(ix))
    if eligible.size < 2:
        return PolicyMap()
    by_line, starts = _columns_by_line(ix, dc)
    # Equal lines: same SKU, priority, earliest period and allowed warehouses.
    keys = np.column_stack([ix.line_sku[eligible], ix.line_priority[eligible], ix.line_first[eligible],
                            ix.allowed[eligible].astype(np.int64)])
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.ravel()
    lam_member: list[np.ndarray] = []  # per λ: its lines
    lam_t: list[int] = []
    for g in np.flatnonzero(np.bincount(group) >= 2):
        members = eligible[group == g]
        for t in range(ix.T):
            here = members[(ix.line_due[members] <= t) & (ix.line_last[members] >= t)]
            if here.shape[0] >= 2:
                lam_member.append(here)
                lam_t.append(t)
    if not lam_member:
        return PolicyMap()
    line_rank = None if rank is None else rank[ix.line_order]
    if pairwise:
        return _fair_share_pairs(asm, ix, dc, lam_member, lam_t, line_rank)
    lam_cols = asm.add_columns("fair_share_level", np.zeros(len(lam_t)), 0.0, 1.0, integer=False)
    sizes = np.array([m.shape[0] for m in lam_member])
    row_line = np.concatenate(lam_member)
    row_lam = np.repeat(np.arange(len(lam_t)), sizes)
    rows = asm.add_rows("fair_share_level_band", 0.0, 1.0, row_line.shape[0])
    r_idx, c_idx = [], []
    for r, (i, lam) in enumerate(zip(row_line, row_lam, strict=True)):
        cols = by_line[starts[i]:starts[i + 1]]
        cols = cols[dc.t[cols] <= lam_t[lam]]
        r_idx.append(np.full(cols.shape[0], rows[r]))
        c_idx.append(dc.col[cols])
    asm.add_coefficients(np.concatenate(r_idx), np.concatenate(c_idx), 1.0)
    asm.add_coefficients(rows, lam_cols[row_lam], -ix.line_qty[row_line].astype(float))
    if line_rank is not None:
        _older_first_rows(asm, ix, dc, lam_member, lam_t, line_rank)
    touched = np.isin(dc.line, row_line)
    return PolicyMap(lam_cols=lam_cols, fs_rows=rows, fs_lam=row_lam, fs_qty=ix.line_qty[row_line].astype(float),
                     integer_cols=dc.col[touched])


def _older_first_rows(asm: ModelAssembler, ix: ProblemIndex, dc: DeliveryColumns, groups: list[np.ndarray],
                      periods: list[int], line_rank: np.ndarray) -> None:
    """Ties go to the older order: ``q_j D_i(t) - q_i D_j(t) ≥ 1 - q_i`` for ``i`` older than ``j``.

    With equal quantities this is ``D_i ≥ D_j``, transitive, so a chain in age order
    says it with ``n - 1`` rows; otherwise every older-younger pair gets its row.
    """
    by_line, starts = _columns_by_line(ix, dc)
    r_idx: list[np.ndarray] = []
    c_idx: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lower: list[float] = []
    for members, t in zip(groups, periods, strict=True):
        members = members[np.argsort(line_rank[members], kind="stable")]
        qty = ix.line_qty[members]
        if (qty == qty[0]).all():
            pairs = [(members[k], members[k + 1]) for k in range(members.shape[0] - 1)]
        else:
            pairs = [(members[a], members[b]) for a in range(members.shape[0]) for b in range(a + 1, members.shape[0])]
        for i, j in pairs:
            same = ix.line_qty[i] == ix.line_qty[j]
            coef_i, coef_j = (1.0, -1.0) if same else (float(ix.line_qty[j]), -float(ix.line_qty[i]))
            for line, coef in ((i, coef_i), (j, coef_j)):
                cols = by_line[starts[line]:starts[line + 1]]
                cols = cols[dc.t[cols] <= t]
                r_idx.append(np.full(cols.shape[0], len(lower)))
                c_idx.append(dc.col[cols])
                vals.append(np.full(cols.shape[0], coef))
            lower.append(0.0 if same else 1.0 - float(ix.line_qty[i]))
    if not lower:
        return
    rows = asm.add_rows("fair_share_older_first", np.asarray(lower), INF, len(lower))
    asm.add_coefficients(rows[np.concatenate(r_idx)], np.concatenate(c_idx), np.concatenate(vals))


def _fair_share_pairs(
    asm: ModelAssembler, ix: ProblemIndex, dc: DeliveryColumns, groups: list[np.ndarray], periods: list[int],
    line_rank: np.ndarray | None = None,
) -> PolicyMap:
    """Fair share with integer coefficients only: ``q_j D_i(t) - q_i D_j(t) >= -q_i`` for every pair
    (``1 - q_i`` when ties go to the older order and ``i`` is older)."""
    by_line, starts = _columns_by_line(ix, dc)
    r_idx, c_idx, vals, lower = [], [], [], []
    n_rows = 0
    for members, t in zip(groups, periods, strict=True):
        for i in members:
            for j in members:
                if i == j:
                    continue
                for line, coef in ((i, ix.line_qty[j]), (j, -ix.line_qty[i])):
                    cols = by_line[starts[line]:starts[line + 1]]
                    cols = cols[dc.t[cols] <= t]
                    r_idx.append(np.full(cols.shape[0], n_rows))
                    c_idx.append(dc.col[cols])
                    vals.append(np.full(cols.shape[0], float(coef)))
                older = line_rank is not None and line_rank[i] < line_rank[j]
                lower.append(-float(ix.line_qty[i]) + (1.0 if older else 0.0))
                n_rows += 1
    rows = asm.add_rows("fair_share_pairs", np.asarray(lower), INF, n_rows)
    asm.add_coefficients(rows[np.concatenate(r_idx)], np.concatenate(c_idx), np.concatenate(vals))
    touched = np.isin(dc.line, np.concatenate(groups))
    return PolicyMap(integer_cols=dc.col[touched])


def add_smoothing_rows(
    asm: ModelAssembler, ix: ProblemIndex, slot_ag: np.ndarray, slot_p: np.ndarray, seg_slot: np.ndarray,
    n_cols: np.ndarray,
) -> None:
    """``-Δ ≤ q_a(t) - q_a(t-1) ≤ Δ`` for agreements with ``max_change_per_period`` (order smoothing)."""
    limits = np.array([-1 if a.max_change_per_period is None else a.max_change_per_period for a in ix.agreements],
                      dtype=np.int64)
    smoothed = np.flatnonzero(limits >= 0)
    if smoothed.size == 0:
        return
    seg_ag = slot_ag[seg_slot]
    keep = np.isin(seg_ag, smoothed)
    seg_cols, seg_a, seg_t = n_cols[keep], seg_ag[keep], slot_p[seg_slot[keep]]
    # One row per (agreement, t >= 1) where it may order in t or t - 1.
    follows = seg_t + 1 < ix.T
    keys = np.unique(np.concatenate([seg_a * ix.T + seg_t, (seg_a * ix.T + seg_t + 1)[follows]]))
    keys = keys[keys % ix.T > 0]
    if keys.size == 0:
        return
    rows = asm.add_rows("order_smoothing", -limits[keys // ix.T].astype(float), limits[keys // ix.T].astype(float),
                        keys.shape[0])
    packs = ix.ag_pack[seg_a].astype(float)
    now = np.searchsorted(keys, seg_a * ix.T + seg_t)
    ok = (now < keys.shape[0]) & (keys[np.minimum(now, keys.shape[0] - 1)] == seg_a * ix.T + seg_t)
    asm.add_coefficients(rows[now[ok]], seg_cols[ok], packs[ok])
    nxt = np.searchsorted(keys, seg_a * ix.T + seg_t + 1)
    ok = ((seg_t + 1 < ix.T) & (nxt < keys.shape[0])
          & (keys[np.minimum(nxt, keys.shape[0] - 1)] == seg_a * ix.T + seg_t + 1))
    asm.add_coefficients(rows[nxt[ok]], seg_cols[ok], -packs[ok])


def fill_policy_columns(model: MipModel, pm: PolicyMap, x: np.ndarray) -> None:
    """Set the policy columns of a warm start ``x`` from its deliveries (in place)."""
    if pm.z_cols.size:
        x[pm.z_cols] = 0.0
        delivered = model.matrix[pm.z_rows] @ x
        x[pm.z_cols] = (delivered >= pm.z_qty - 1e-9).astype(float)
    if pm.lam_cols.size:
        x[pm.lam_cols] = 0.0
        fill = (model.matrix[pm.fs_rows] @ x) / pm.fs_qty
        level = np.full(pm.lam_cols.shape[0], np.inf)
        np.minimum.at(level, pm.fs_lam, fill)
        x[pm.lam_cols] = np.clip(level, 0.0, 1.0)

"""A frozen copy of ``solver/builder.py`` as of commit 6c20f1f, before it was split into rule families.

Kept only for tests/solver/test_builder_identical.py, which proves that the split
builds the same model for every problem. Do not edit; do not import outside that test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stockplan.solver.indexing import ProblemIndex
from stockplan.solver.mip import INF, MipModel, ModelAssembler
from stockplan.solver.policies import DeliveryColumns, PolicyMap, add_policy_rows, add_smoothing_rows


@dataclass
class ModelMap:
    """Which entity each column of the built model stands for (for decoding and warm starts)."""

    x_line: np.ndarray
    x_loc: np.ndarray
    x_t: np.ndarray
    y_ag: np.ndarray
    y_line: np.ndarray
    y_p: np.ndarray
    f_pair: np.ndarray
    f_t: np.ndarray
    active_pairs: np.ndarray  # pairs that have I columns, in order
    pair_slot: np.ndarray  # pair -> position in active_pairs or -1
    s_pair: np.ndarray
    s_t: np.ndarray
    slot_ag: np.ndarray  # PO slot -> agreement
    slot_p: np.ndarray  # PO slot -> period placed
    seg_slot: np.ndarray  # segment column -> slot
    seg_lo: np.ndarray  # packs
    seg_hi: np.ndarray  # packs
    w_seg: np.ndarray  # w column -> segment (position in n block)
    u_sup: np.ndarray
    u_p: np.ndarray
    v_order: np.ndarray  # index into problem.orders
    v_t: np.ndarray
    policy: PolicyMap = field(default_factory=PolicyMap)


def price_segment(mp: ModelMap, n_packs: np.ndarray) -> np.ndarray:
    """Per purchase slot, the segment column that ``n_packs`` packs fall in (-1: none, or nothing ordered).

    Segments of a slot ascend by quantity and never by price, so where two fit
    (they share no quantity, but a slot's bounds may overlap after capping) the
    last is the cheapest.
    """
    packs = n_packs[mp.seg_slot]
    fits = (packs >= mp.seg_lo) & (packs <= mp.seg_hi) & (packs > 0)
    chosen = np.full(mp.slot_ag.shape[0], -1, dtype=np.int64)
    chosen[mp.seg_slot[fits]] = np.flatnonzero(fits)
    return chosen


def _expand(starts: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups ``g`` of ``lengths[g]`` consecutive values from ``starts[g]``: (group, value)."""
    lengths = np.maximum(lengths, 0)
    group = np.repeat(np.arange(lengths.shape[0]), lengths)
    offsets = np.arange(group.shape[0]) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return group, starts[group] + offsets


def _value_of_delivery(ix: ProblemIndex, line: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Cost saved by delivering one unit to ``line`` in period ``t`` (lost sale + periods late avoided).

    With a promise-slip cost, also the periods of slip beyond the order's previous promise avoided.
    """
    late = ix.line_last[line] - np.maximum(t, ix.line_due[line]) + 1
    value = ix.line_lost[line] + ix.line_backorder[line] * late
    slip_cost = ix.problem.settings.promise_slip_cost
    if slip_cost > 0:
        value = value + slip_cost * np.maximum(ix.line_last[line] - np.maximum(t, ix.line_promised[line]) + 1, 0)
    return value


def build_model(ix: ProblemIndex, all_integer: bool = False) -> tuple[MipModel, ModelMap]:
    """Build the MIP; ``all_integer`` declares every column integer (for CP-SAT, which takes no others)."""
    T, NL = ix.T, ix.n_locations
    asm = ModelAssembler()
    n_lines = ix.n_lines

    # Pairs where stock can ever exist; elsewhere nothing can ship or be filled.
    inflow = (ix.on_hand > 0) | (ix.inbound.sum(axis=1) > 0)
    stock_ag = np.flatnonzero(~ix.ag_dropship & (ix.ag_lead <= T - 1))
    inflow[ix.ag_sku[stock_ag] * NL + ix.ag_loc[stock_ag]] = True
    active_pairs = np.flatnonzero(inflow)
    pair_slot = np.full(ix.n_pairs, -1, dtype=np.int64)
    pair_slot[active_pairs] = np.arange(active_pairs.shape[0])
    n_act = active_pairs.shape[0]

    # Constant: every line undelivered, every forecast unserved, shortfall where stock can't exist.
    window = ix.line_last - ix.line_due + 1
    offset = float(np.sum(ix.line_qty * (ix.line_lost + ix.line_backorder * window)))
    slip_cost = ix.problem.settings.promise_slip_cost
    if slip_cost > 0:  # every unit open from the promised period to ℓ, before any delivery
        offset += slip_cost * float(np.sum(ix.line_qty * np.maximum(ix.line_last - ix.line_promised + 1, 0)))
    sku_of_pair = np.arange(ix.n_pairs) // NL
    offset += float(np.sum(ix.forecast.sum(axis=1) * ix.lost_sale[sku_of_pair]))
    dead = ~inflow
    offset += float(np.sum(ix.safety_stock[dead] * ix.safety_cost[dead]) * T)
    asm.offset = offset

    # --- x: shipments (line, location, period) within the line's window
    cand_line, cand_loc = np.nonzero(ix.allowed & (pair_slot[ix.line_sku[:, None] * NL + np.arange(NL)] >= 0))
    lengths = ix.line_last[cand_line] - ix.line_first[cand_line] + 1
    grp, x_t = _expand(ix.line_first[cand_line], lengths)
    x_line, x_loc = cand_line[grp], cand_loc[grp]
    x_cost = ix.ship_cost[x_line, x_loc] - _value_of_delivery(ix, x_line, x_t)
    x_cols = asm.add_columns("x", x_cost, 0.0, ix.line_qty[x_line].astype(float), integer=all_integer)

    # --- y: dropship deliveries, for lines of the agreement's SKU not held to ship-complete
    drop_ags = np.flatnonzero(ix.ag_dropship)
    open_lines = np.flatnonzero(~ix.line_complete & (ix.line_first <= ix.line_last))
    lines_by_sku: dict[int, np.ndarray] = {}
    if open_lines.size:
        order = np.argsort(ix.line_sku[open_lines], kind="stable")
        sorted_lines = open_lines[order]
        uniq, first = np.unique(ix.line_sku[sorted_lines], return_index=True)
        for k, chunk in zip(uniq, np.split(sorted_lines, first[1:]), strict=True):
            lines_by_sku[int(k)] = chunk
    y_parts = []
    for a in drop_ags:
        lines = lines_by_sku.get(int(ix.ag_sku[a]))
        if lines is None:
            continue
        L = ix.ag_lead[a]
        start = np.maximum(ix.line_first[lines], L)
        g, t = _expand(start, ix.line_last[lines] - start + 1)
        y_parts.append((np.full(g.shape[0], a), lines[g], t - L))
    y_ag = np.concatenate([p[0] for p in y_parts]) if y_parts else np.zeros(0, np.int64)
    y_line = np.concatenate([p[1] for p in y_parts]) if y_parts else np.zeros(0, np.int64)
    y_p = np.concatenate([p[2] for p in y_parts]) if y_parts else np.zeros(0, np.int64)
    seg = _price_segments(ix)
    has_slot = seg.has_slot(y_ag, y_p)  # no slot: the agreement cannot deliver then (capacity 0)
    y_ag, y_line, y_p = y_ag[has_slot], y_line[has_slot], y_p[has_slot]
    y_cost = -_value_of_delivery(ix, y_line, y_p + ix.ag_lead[y_ag])
    y_cols = asm.add_columns("y", y_cost, 0.0, ix.line_qty[y_line].astype(float), integer=all_integer)

    # --- f: forecast fills
    f_pair, f_t = np.nonzero(ix.forecast * (pair_slot[:, None] >= 0))
    f_cols = asm.add_columns(
        "f", -ix.lost_sale[f_pair // NL], 0.0, ix.forecast[f_pair, f_t].astype(float), integer=all_integer
    )

    # --- I: stock at the end of each period
    I_pair = np.repeat(active_pairs, T)
    I_t = np.tile(np.arange(T), n_act)
    # Stock never exceeds everything that could ever arrive: a finite bound every backend takes.
    I_cols = asm.add_columns("I", ix.holding[I_pair // NL], 0.0, 0.0, integer=all_integer)

    # --- s: safety-stock shortfall (only where it costs something)
    ss_pairs = active_pairs[(ix.safety_stock[active_pairs] > 0) & (ix.safety_cost[active_pairs] > 0)]
    s_pair = np.repeat(ss_pairs, T)
    s_t = np.tile(np.arange(T), ss_pairs.shape[0])
    s_cols = asm.add_columns("s", ix.safety_cost[s_pair], 0.0, ix.safety_stock[s_pair].astype(float), False)

    # --- purchase slots and their price segments
    slot_ag, slot_p = seg.slot_ag, seg.slot_p
    seg_slot = seg.seg_slot
    n_cols = asm.add_columns("n", seg.seg_price * ix.ag_pack[slot_ag[seg_slot]], 0.0,
                             seg.seg_hi.astype(float), integer=True)
    w_seg = np.flatnonzero(seg.seg_needs_w)
    w_cols = asm.add_columns("w", np.zeros(w_seg.shape[0]), 0.0, 1.0, integer=True)

    # --- u: supplier ordered from in a period (fixed order cost)
    sup_of_slot = ix.ag_supplier[slot_ag]
    fixed = ix.fixed_order_cost()
    charged = fixed[sup_of_slot, slot_p] > 0
    sp_keys = np.unique(sup_of_slot[charged] * T + slot_p[charged])
    u_sup, u_p = sp_keys // T, sp_keys % T
    u_cols = asm.add_columns("u", fixed[u_sup, u_p], 0.0, 1.0, integer=True)

    # --- v: ship-complete order delivered whole in period t
    sc_lines = np.flatnonzero(ix.line_complete & (ix.line_first <= ix.line_last))
    sc_orders, first_line = np.unique(ix.line_order[sc_lines], return_index=True)
    sc_first = ix.line_first[sc_lines[first_line]]
    sc_last = ix.line_last[sc_lines[first_line]]
    g, v_t = _expand(sc_first, sc_last - sc_first + 1)
    v_order = sc_orders[g]
    v_cols = asm.add_columns("v", np.zeros(v_t.shape[0]), 0.0, 1.0, integer=True)

    # ===== rows
    # Stock balance: I(t) - I(t-1) - arrivals(t) + shipped(t) + filled(t) = inbound(t) (+ on_hand at t=0)
    rhs = ix.inbound[active_pairs].astype(float)
    rhs[:, 0] += ix.on_hand[active_pairs]
    bal = asm.add_rows("stock_balance", rhs.ravel(), rhs.ravel(), n_act * T)

    def bal_row(pair: np.ndarray, t: np.ndarray) -> np.ndarray:
        return bal[pair_slot[pair] * T + t]

    asm.add_coefficients(bal_row(I_pair, I_t), I_cols, 1.0)
    nxt = I_t < T - 1
    asm.add_coefficients(bal_row(I_pair[nxt], I_t[nxt] + 1), I_cols[nxt], -1.0)
    asm.add_coefficients(bal_row(ix.line_sku[x_line] * NL + x_loc, x_t), x_cols, 1.0)
    asm.add_coefficients(bal_row(f_pair, f_t), f_cols, 1.0)
    arrive = ~ix.ag_dropship[slot_ag[seg_slot]]
    seg_ag = slot_ag[seg_slot]
    asm.add_coefficients(
        bal_row(ix.ag_sku[seg_ag[arrive]] * NL + ix.ag_loc[seg_ag[arrive]],
                slot_p[seg_slot[arrive]] + ix.ag_lead[seg_ag[arrive]]),
        n_cols[arrive],
        -ix.ag_pack[seg_ag[arrive]].astype(float),
    )

    # Safety stock: s(t) + I(t) >= safety_stock
    ssr = asm.add_rows("safety_stock", ix.safety_stock[s_pair].astype(float), INF, s_pair.shape[0])
    asm.add_coefficients(ssr, s_cols, 1.0)
    asm.add_coefficients(ssr, asm.blocks["I"].start + pair_slot[s_pair] * T + s_t, 1.0)

    # Line quantity: shipments and dropships together never exceed it (ship-complete: see below)
    capped = np.flatnonzero(~ix.line_complete)
    line_row = np.full(n_lines, -1, dtype=np.int64)
    lr = asm.add_rows("line_quantity", -INF, ix.line_qty[capped].astype(float), capped.shape[0])
    line_row[capped] = lr
    xs = line_row[x_line] >= 0
    asm.add_coefficients(line_row[x_line[xs]], x_cols[xs], 1.0)
    asm.add_coefficients(line_row[y_line], y_cols, 1.0)

    # Dropship slot: packs ordered = units delivered to lines
    drop_slots = np.flatnonzero(ix.ag_dropship[slot_ag])
    slot_row = np.full(slot_ag.shape[0], -1, dtype=np.int64)
    slot_row[drop_slots] = asm.add_rows("dropship_balance", 0.0, 0.0, drop_slots.shape[0])
    dseg = slot_row[seg_slot] >= 0
    asm.add_coefficients(slot_row[seg_slot[dseg]], n_cols[dseg], -ix.ag_pack[seg_ag[dseg]].astype(float))
    y_slot = seg.slot_lookup(y_ag, y_p)
    asm.add_coefficients(slot_row[y_slot], y_cols, 1.0)

    # Segment bounds: lo*w <= n <= hi*w where a binary is needed
    wr_hi = asm.add_rows("segment_upper", -INF, 0.0, w_seg.shape[0])
    asm.add_coefficients(wr_hi, n_cols[w_seg], 1.0)
    asm.add_coefficients(wr_hi, w_cols, -seg.seg_hi[w_seg].astype(float))
    wr_lo = asm.add_rows("segment_lower", 0.0, INF, w_seg.shape[0])
    asm.add_coefficients(wr_lo, n_cols[w_seg], 1.0)
    asm.add_coefficients(wr_lo, w_cols, -seg.seg_lo[w_seg].astype(float))

    # One segment per slot, and only when the supplier is ordered from (fixed cost)
    u_key = u_sup * T + u_p
    slot_u = np.full(slot_ag.shape[0], -1, dtype=np.int64)
    ch = np.flatnonzero(charged)
    slot_u[ch] = u_cols[np.searchsorted(u_key, sup_of_slot[ch] * T + slot_p[ch])] if ch.size else ch
    w_slot = seg_slot[w_seg]
    slots_with_w = np.unique(w_slot)
    choose = asm.add_rows("one_segment", -INF, np.where(slot_u[slots_with_w] >= 0, 0.0, 1.0),
                          slots_with_w.shape[0])
    choose_of_slot = np.full(slot_ag.shape[0], -1, dtype=np.int64)
    choose_of_slot[slots_with_w] = choose
    asm.add_coefficients(choose_of_slot[w_slot], w_cols, 1.0)
    has_u = slot_u[slots_with_w] >= 0
    asm.add_coefficients(choose[has_u], slot_u[slots_with_w[has_u]], -1.0)
    # Slots without a binary but with a fixed cost: n <= hi * u
    plain = np.flatnonzero(~seg.seg_needs_w & (slot_u[seg_slot] >= 0))
    pr = asm.add_rows("fixed_cost_link", -INF, 0.0, plain.shape[0])
    asm.add_coefficients(pr, n_cols[plain], 1.0)
    asm.add_coefficients(pr, slot_u[seg_slot[plain]], -seg.seg_hi[plain].astype(float))

    # Ship-complete: every line in full in the chosen period, at most one period
    v_key = v_order * T + v_t
    sc_x = np.flatnonzero(ix.line_complete[x_line])
    sc_line_t = np.unique(sc_lines[:, None] * T + np.arange(T)[None, :])
    sc_line_t = sc_line_t[
        ((sc_line_t % T) >= ix.line_first[sc_line_t // T]) & ((sc_line_t % T) <= ix.line_last[sc_line_t // T])
    ]
    whole = asm.add_rows("ship_complete_whole", 0.0, 0.0, sc_line_t.shape[0])
    asm.add_coefficients(whole[np.searchsorted(sc_line_t, x_line[sc_x] * T + x_t[sc_x])], x_cols[sc_x], 1.0)
    lt_line, lt_t = sc_line_t // T, sc_line_t % T
    asm.add_coefficients(
        whole, v_cols[np.searchsorted(v_key, ix.line_order[lt_line] * T + lt_t)], -ix.line_qty[lt_line].astype(float)
    )
    once = asm.add_rows("ship_complete_once", -INF, 1.0, sc_orders.shape[0])
    asm.add_coefficients(once[np.searchsorted(sc_orders, v_order)], v_cols, 1.0)

    # Allocation policy and order smoothing (solver/policies.py)
    dc = DeliveryColumns(
        col=np.concatenate([x_cols, y_cols]), line=np.concatenate([x_line, y_line]),
        t=np.concatenate([x_t, y_p + ix.ag_lead[y_ag]]), loc=np.concatenate([x_loc, np.full(y_ag.shape[0], -1)]),
    )
    policy = add_policy_rows(asm, ix, dc, all_integer)
    add_smoothing_rows(asm, ix, slot_ag, slot_p, seg_slot, n_cols)

    model = asm.build()
    model.integrality[policy.integer_cols] = True
    # Stock bound: on hand + inbound + the most every slot of the pair can bring.
    inflow_max = ix.on_hand + ix.inbound.sum(axis=1)
    arriving_pair = ix.ag_sku[seg_ag] * NL + np.maximum(ix.ag_loc[seg_ag], 0)
    np.add.at(inflow_max, arriving_pair[arrive], (seg.seg_hi * ix.ag_pack[seg_ag])[arrive])
    model.col_upper[asm.blocks["I"]] = inflow_max[I_pair].astype(float)
    if all_integer:
        model.integrality[:] = True
    mapping = ModelMap(
        x_line=x_line, x_loc=x_loc, x_t=x_t,
        y_ag=y_ag, y_line=y_line, y_p=y_p,
        f_pair=f_pair, f_t=f_t,
        active_pairs=active_pairs, pair_slot=pair_slot,
        s_pair=s_pair, s_t=s_t,
        slot_ag=slot_ag, slot_p=slot_p,
        seg_slot=seg_slot, seg_lo=seg.seg_lo, seg_hi=seg.seg_hi,
        w_seg=w_seg, u_sup=u_sup, u_p=u_p, v_order=v_order, v_t=v_t, policy=policy,
    )
    return model, mapping


@dataclass
class _Segments:
    slot_ag: np.ndarray
    slot_p: np.ndarray
    seg_slot: np.ndarray
    seg_lo: np.ndarray  # packs
    seg_hi: np.ndarray  # packs
    seg_price: np.ndarray  # per unit
    seg_needs_w: np.ndarray
    T: int

    def slot_lookup(self, ag: np.ndarray, p: np.ndarray) -> np.ndarray:
        keys = self.slot_ag * self.T + self.slot_p
        return np.searchsorted(keys, ag * self.T + p)

    def has_slot(self, ag: np.ndarray, p: np.ndarray) -> np.ndarray:
        keys = self.slot_ag * self.T + self.slot_p
        if keys.size == 0:
            return np.zeros(ag.shape[0], dtype=bool)
        pos = np.minimum(np.searchsorted(keys, ag * self.T + p), keys.size - 1)
        return keys[pos] == ag * self.T + p


def useful_quantity(ix: ProblemIndex) -> np.ndarray:
    """Per agreement and arrival period, a quantity no optimal plan needs to exceed in one order.

    Units arriving in period ``t`` can only serve lines still open at ``t``, forecast
    from ``t`` on and the safety stock; beyond that, more units only add cost.
    Returns an ``(agreements, T)`` array.
    """
    T, S, NL = ix.T, len(ix.skus), ix.n_locations
    # open_after[k, t]: units of SKU k on lines whose last period is >= t
    by_last = np.zeros((S, T + 1))
    np.add.at(by_last, (ix.line_sku, ix.line_last), ix.line_qty)
    open_after = np.cumsum(by_last[:, ::-1], axis=1)[:, ::-1][:, :T]
    free = ~ix.line_complete
    by_last_free = np.zeros((S, T + 1))
    np.add.at(by_last_free, (ix.line_sku[free], ix.line_last[free]), ix.line_qty[free])
    open_after_free = np.cumsum(by_last_free[:, ::-1], axis=1)[:, ::-1][:, :T]
    fc_after = np.cumsum(ix.forecast[:, ::-1], axis=1)[:, ::-1]
    pair = ix.ag_sku * NL + np.maximum(ix.ag_loc, 0)
    stock_need = open_after[ix.ag_sku] + fc_after[pair] + ix.safety_stock[pair][:, None]
    return np.where(ix.ag_dropship[:, None], open_after_free[ix.ag_sku], stock_need).astype(np.int64)


def _price_segments(ix: ProblemIndex) -> _Segments:
    """All-units price breaks as segments in packs; one slot per agreement and useful period."""
    T = ix.T
    useful = useful_quantity(ix)
    slot_ag_l, slot_p_l = [], []
    seg_slot_l, lo_l, hi_l, price_l, needs_l = [], [], [], [], []
    n_slots = 0
    for a, ag in enumerate(ix.agreements):
        L = int(ix.ag_lead[a])
        if L > T - 1:
            continue
        pack, moq = int(ix.ag_pack[a]), int(ix.ag_moq[a])
        breaks = sorted((pb.min_qty, pb.unit_cost) for pb in ag.price_breaks or ())
        mins = [0] + [m for m, _ in breaks]
        prices = [ag.unit_cost] + [c for _, c in breaks]
        # Per period placed: enough to reach MOQ and the deepest break, never past capacity.
        need = useful[a, L:]
        top = np.maximum(need, max(moq, mins[-1]))
        top_packs = -(-top // pack)
        if ix.ag_cap[a] >= 0:
            top_packs = np.minimum(top_packs, int(ix.ag_cap[a]) // pack)
        top_packs[need <= 0] = 0  # nothing left to serve from that arrival on
        periods = np.flatnonzero(top_packs > 0)
        if periods.size == 0:
            continue
        segs = []
        for k in range(len(mins)):
            lo = -(-max(mins[k], moq, 1) // pack)
            hi = top_packs[periods] if k + 1 == len(mins) else np.minimum(
                top_packs[periods], (mins[k + 1] - 1) // pack)
            segs.append((lo, hi, prices[k]))
        feasible = [(lo, hi, c) for lo, hi, c in segs if np.any(hi >= lo)]
        if not feasible:
            continue
        needs_w = len(feasible) > 1 or feasible[0][0] > 1
        base = n_slots + np.arange(periods.shape[0])
        slot_ag_l.append(np.full(periods.shape[0], a))
        slot_p_l.append(periods)
        n_slots += periods.shape[0]
        for lo, hi, price in feasible:
            ok = hi >= lo
            seg_slot_l.append(base[ok])
            lo_l.append(np.full(int(ok.sum()), lo))
            hi_l.append(hi[ok])
            price_l.append(np.full(int(ok.sum()), price))
            needs_l.append(np.full(int(ok.sum()), needs_w))

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    seg_slot = cat(seg_slot_l, np.int64)
    order = np.argsort(seg_slot, kind="stable")  # segments grouped by slot
    return _Segments(
        slot_ag=cat(slot_ag_l, np.int64),
        slot_p=cat(slot_p_l, np.int64),
        seg_slot=seg_slot[order],
        seg_lo=cat(lo_l, np.int64)[order],
        seg_hi=cat(hi_l, np.int64)[order],
        seg_price=cat(price_l, np.float64)[order],
        seg_needs_w=cat(needs_l, bool)[order],
        T=T,
    )

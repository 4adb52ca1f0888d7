"""The backend-neutral MIP: one sparse matrix form that every backend is fed from.

``minimise c·x + offset  s.t.  row_lower <= A x <= row_upper,  col_lower <= x <= col_upper``
with ``integrality[j]`` true for integer columns. Rows are stored as CSR so that
HiGHS (row-wise ``passModel``), OR-Tools and PuLP (one affine expression per
row) all read the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

INF = float("inf")
# Column blocks that need not be whole numbers (see MipModel.max_violation_integral): the
# fair-share levels are fractions of a line; the segment flows (R5) only bound the LP, no
# decision is read from them.
FRACTIONAL_BLOCKS = ("fair_share_level", "segment_flow", "free_use", "free_stock")


@dataclass
class MipModel:
    """Arrays of one mixed-integer program (minimisation)."""

    cost: np.ndarray  # (n,) float64
    col_lower: np.ndarray  # (n,) float64
    col_upper: np.ndarray  # (n,) float64, inf allowed
    integrality: np.ndarray  # (n,) bool
    matrix: sp.csr_matrix  # (m, n)
    row_lower: np.ndarray  # (m,) float64, -inf allowed
    row_upper: np.ndarray  # (m,) float64, inf allowed
    offset: float = 0.0
    blocks: dict[str, slice] = field(default_factory=dict)  # column blocks by name
    row_blocks: dict[str, slice] = field(default_factory=dict)

    @property
    def num_cols(self) -> int:
        return int(self.cost.shape[0])

    @property
    def num_rows(self) -> int:
        return int(self.row_lower.shape[0])

    @property
    def num_integer(self) -> int:
        return int(self.integrality.sum())

    def objective(self, x: np.ndarray) -> float:
        return float(self.cost @ x + self.offset)

    def max_violation(self, x: np.ndarray) -> float:
        """Largest bound or row violation of ``x`` (0 for a feasible point)."""
        ax = self.matrix @ x
        viol = [
            np.max(self.col_lower - x, initial=0.0),
            np.max(x - self.col_upper, initial=0.0),
            np.max(self.row_lower - ax, initial=0.0),
            np.max(ax - self.row_upper, initial=0.0),
        ]
        frac = np.abs(x - np.round(x))[self.integrality]
        viol.append(float(np.max(frac, initial=0.0)))
        return float(max(viol))


    def max_violation_integral(self, x: np.ndarray) -> float:
        """Largest distance from a whole number of any column that counts units.

        Every column counts units except the fair-share levels (fractions of a line).
        """
        frac = np.abs(x - np.round(x))
        for name in FRACTIONAL_BLOCKS:
            if name in self.blocks:
                frac[self.blocks[name]] = 0.0
        return float(np.max(frac, initial=0.0))


class ModelAssembler:
    """Collects column and row blocks as arrays, then assembles one :class:`MipModel`.

    Columns and rows are added in blocks (numpy arrays, never one Python object
    per variable); coefficients arrive as COO triplets referring to global
    column indices.
    """

    def __init__(self) -> None:
        self._n = 0
        self._m = 0
        self._cols: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._rows: list[tuple[np.ndarray, np.ndarray]] = []
        self._coo: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.blocks: dict[str, slice] = {}
        self.row_blocks: dict[str, slice] = {}
        self.offset = 0.0

    def add_columns(
        self,
        name: str,
        cost: np.ndarray,
        lower: np.ndarray | float,
        upper: np.ndarray | float,
        integer: bool,
    ) -> np.ndarray:
        """Add ``len(cost)`` columns; return their global indices."""
        cost = np.asarray(cost, dtype=np.float64)
        k = cost.shape[0]
        lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), (k,)).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), (k,)).copy()
        self._cols.append((cost, lo, hi, np.full(k, integer)))
        idx = np.arange(self._n, self._n + k, dtype=np.int64)
        self.blocks[name] = slice(self._n, self._n + k)
        self._n += k
        return idx

    def add_rows(self, name: str, lower: np.ndarray | float, upper: np.ndarray | float, count: int) -> np.ndarray:
        """Add ``count`` rows; return their global indices."""
        lo = np.broadcast_to(np.asarray(lower, dtype=np.float64), (count,)).copy()
        hi = np.broadcast_to(np.asarray(upper, dtype=np.float64), (count,)).copy()
        self._rows.append((lo, hi))
        idx = np.arange(self._m, self._m + count, dtype=np.int64)
        self.row_blocks[name] = slice(self._m, self._m + count)
        self._m += count
        return idx

    def add_coefficients(self, rows: np.ndarray, cols: np.ndarray, values: np.ndarray | float) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        vals = np.broadcast_to(np.asarray(values, dtype=np.float64), rows.shape).copy()
        self._coo.append((rows, cols, vals))

    def build(self) -> MipModel:
        def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

        cost = cat([c[0] for c in self._cols], np.float64)
        lo = cat([c[1] for c in self._cols], np.float64)
        hi = cat([c[2] for c in self._cols], np.float64)
        integ = cat([c[3] for c in self._cols], bool)
        rlo = cat([r[0] for r in self._rows], np.float64)
        rhi = cat([r[1] for r in self._rows], np.float64)
        rows = cat([t[0] for t in self._coo], np.int64)
        cols = cat([t[1] for t in self._coo], np.int64)
        vals = cat([t[2] for t in self._coo], np.float64)
        # Duplicate (row, col) entries are summed by the CSR conversion.
        matrix = sp.csr_matrix((vals, (rows, cols)), shape=(self._m, self._n))
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        return MipModel(
            cost=cost,
            col_lower=lo,
            col_upper=hi,
            integrality=integ,
            matrix=matrix,
            row_lower=rlo,
            row_upper=rhi,
            offset=self.offset,
            blocks=dict(self.blocks),
            row_blocks=dict(self.row_blocks),
        )

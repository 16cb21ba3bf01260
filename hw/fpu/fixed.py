"""Exact fixed-point sum of raw products (the core of a single-rounding dot product)."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .raw import RawShape

__all__ = ["ProductSum", "AlignedSum", "adder_tree", "balanced_tree", "MAX_FIXED_WIDTH"]

#: Widest exact fixed-point sum a dot unit builds (bf16 products would need 522 bits).
MAX_FIXED_WIDTH = 160


def balanced_tree(values, combine):
    """``combine`` folded over ``values`` pairwise, a log-depth tree (sums, maxima, ORs)."""
    values = list(values)
    while len(values) > 1:
        values = [combine(values[i], values[i + 1]) if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


def adder_tree(values):
    """Balanced sum of a list of values (log-depth, as synthesis would want it)."""
    return balanced_tree(values, lambda x, y: x + y)


class ProductSum(wiring.Component):
    """Exact sum of ``lanes`` raw values of one shape, as one raw value (combinational).

    Each term is shifted to the fixed-point grid of the smallest LSB exponent
    ``exp_lo`` (``sig << (exp - exp_lo)``), signed, and summed in a balanced adder
    tree wide enough that nothing is lost.  NaN if any term is NaN or infinities
    of both signs meet; an exact zero sum is -0 only when every term is -0.
    """

    def __init__(self, term_shape: RawShape, lanes: int):
        self.term_shape, self.lanes = term_shape, lanes
        self.fixed_width = self.check_width(term_shape)
        sum_width = self.fixed_width + (lanes - 1).bit_length()
        self.out_shape = RawShape(sum_width, term_shape.exp_lo, term_shape.exp_lo)
        super().__init__({
            "terms": In(data.ArrayLayout(term_shape.layout, lanes)),
            "sum": Out(self.out_shape.layout),
        })

    @staticmethod
    def check_width(term_shape: RawShape) -> int:
        """Fixed-point width of one term; ValueError if it exceeds MAX_FIXED_WIDTH."""
        width = term_shape.exp_hi - term_shape.exp_lo + term_shape.sig_width
        if width > MAX_FIXED_WIDTH:
            raise ValueError(f"an exact sum of these products needs {width} bits (more than "
                             f"{MAX_FIXED_WIDTH}): the format's exponent range is too wide for a dot unit")
        return width

    def elaborate(self, platform):
        m = Module()
        shape = self.term_shape
        fixed = []
        for i, t in enumerate(self.terms):
            magnitude = Signal(self.fixed_width, name=f"fixed{i}")
            m.d.comb += magnitude.eq(t.sig << (t.exp - shape.exp_lo).as_unsigned())
            value = Signal(signed(self.fixed_width + 1), name=f"term{i}")
            m.d.comb += value.eq(Mux(t.sign, -magnitude, magnitude))
            fixed.append(value)
        total = Signal(signed(self.out_shape.sig_width + 1))
        m.d.comb += total.eq(adder_tree(fixed))

        _finish(m, self.terms, total, self.sum, shape.exp_lo)
        return m


def _finish(m, terms, total, out, exp):
    """Flags and sign-magnitude of a signed fixed-point ``total`` at LSB weight ``exp``.

    NaN if any term is NaN or infinities of both signs meet; an exact zero sum
    is -0 only when every term is -0.
    """
    any_nan = 0
    pos_inf = neg_inf = 0
    all_neg_zero = 1
    for t in terms:
        any_nan |= t.nan
        pos_inf |= t.inf & ~t.sign
        neg_inf |= t.inf & t.sign
        all_neg_zero &= t.zero & t.sign
    nan = Signal()
    m.d.comb += nan.eq(any_nan | (pos_inf & neg_inf))
    m.d.comb += [
        out.nan.eq(nan),
        out.inf.eq(~nan & (pos_inf | neg_inf)),
        out.zero.eq(~nan & ~(pos_inf | neg_inf) & (total == 0)),
        out.sig.eq(Mux(total < 0, -total, total)),
        out.exp.eq(exp),
    ]
    # Mux, not m.If: a process driving part of ``out`` would also take a
    # constant ``exp`` into an ``always @*`` that Verilog never evaluates.
    m.d.comb += out.sign.eq(Mux(pos_inf | neg_inf, neg_inf, Mux(total == 0, all_neg_zero, total < 0)))


class AlignedSum(wiring.Component):
    """Sum of ``lanes`` raw values aligned to the largest and truncated to ``width`` bits (combinational).

    The limited-width adder tree of block and tensor-core dot products: a
    term's "top" is ``exp + sig_width`` (exponent-field alignment, no
    normalisation), ``T`` the largest top among finite nonzero terms; each
    term keeps ``floor(sig * 2**(exp - (T - width)))`` (magnitude truncated
    toward zero), and those are summed exactly.  The golden model is
    :func:`hw.formats.block.block_dot` with ``align_bits = width``.
    """

    def __init__(self, term_shape: RawShape, lanes: int, width: int):
        if not isinstance(width, int) or isinstance(width, bool) or not 2 <= width <= MAX_FIXED_WIDTH:
            raise ValueError(f"alignment width must be an int between 2 and {MAX_FIXED_WIDTH}, not {width!r}")
        self.term_shape, self.lanes, self.width = term_shape, lanes, width
        top_lo, top_hi = term_shape.exp_lo + term_shape.sig_width, term_shape.exp_hi + term_shape.sig_width
        self.out_shape = RawShape(width + (lanes - 1).bit_length(), top_lo - width, top_hi - width)
        super().__init__({
            "terms": In(data.ArrayLayout(term_shape.layout, lanes)),
            "sum": Out(self.out_shape.layout),
        })

    def elaborate(self, platform):
        m = Module()
        shape, width = self.term_shape, self.width
        top_shape = signed(self.out_shape.exp_shape.width + 1)
        lowest = shape.exp_lo + shape.sig_width
        tops = []
        for i, t in enumerate(self.terms):
            top = Signal(top_shape, name=f"top{i}")
            live = ~(t.nan | t.inf | t.zero)
            m.d.comb += top.eq(Mux(live, t.exp + shape.sig_width, lowest))
            tops.append(top)
        peak = balanced_tree(tops, lambda x, y: Mux(x > y, x, y))
        max_top = Signal(top_shape)
        m.d.comb += max_top.eq(peak)
        limit = width + shape.sig_width
        fixed = []
        for i, (t, top) in enumerate(zip(self.terms, tops)):
            distance = Signal(range(limit + 1), name=f"distance{i}")
            m.d.comb += distance.eq(Mux(max_top - top > width, limit, max_top - top + shape.sig_width))
            magnitude = Signal(width, name=f"aligned{i}")
            m.d.comb += magnitude.eq((t.sig << width) >> distance)
            value = Signal(signed(width + 1), name=f"term{i}")
            m.d.comb += value.eq(Mux(t.sign, -magnitude, magnitude))
            fixed.append(value)
        total = Signal(signed(self.out_shape.sig_width + 1))
        m.d.comb += total.eq(adder_tree(fixed))
        _finish(m, self.terms, total, self.sum, max_top - width)
        return m


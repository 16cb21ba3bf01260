"""The training precisions: one record each, read by the training harness, ``hw.rank`` and the cost report.

A :class:`Precision` says how the linear layers of the decoder compute
(native or emulated, which quantizer, which linear function, which
optimizer), which number format's hardware it is costed with, and which
measured GPU matrix peak it runs at.  This module imports no torch, so the
ranking reads it on any machine; the functions it names live in
:mod:`gpu_ref.layers` and :mod:`gpu_ref.lns`.

Adding a precision is one record here (and, for a new kind of matmul, one
linear function in :mod:`gpu_ref.layers`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Precision", "PRECISIONS", "NATIVE", "EMULATED", "MATMULS", "get", "names"]

#: How an emulated precision multiplies its quantized operands: (bf16 parts per operand value, the part
#: products kept as (i, j) pairs).  Every value is the exact sum of its parts (part i+1 = bf16 of what parts
#: 0..i leave), every part product is exact in fp32, and the tensor cores add them in fp32.
#: ``bf16``: values exact in bf16 (8 significant bits: MX, NVFP4, posit8) -- what the emulated hardware
#: computes, up to the order of fp32 additions.  ``bf16x2``: up to 16 significant bits (posit16's 13), all
#: four part products: the exact products.  ``bf16x3``: up to 24 (lns8's fp32-rounded irrational roots); the
#: six products with i + j <= 2, leaving out three below 2**-23 |a b| together, the size of one fp32 rounding.
#: One matmul per kept pair, each accumulated into the fp32 result.
MATMULS = {
    "bf16": (1, ((0, 0),)),
    "bf16x2": (2, ((0, 0), (0, 1), (1, 0), (1, 1))),
    "bf16x3": (3, ((0, 0), (0, 1), (1, 0), (0, 2), (1, 1), (2, 0))),
}


@dataclass(frozen=True)
class Precision:
    """One way to run the decoder's linear layers.

    ``native``: the GPU multiplies in this precision (else the operands are
    fake-quantized with :mod:`gpu_ref`'s bit-exact quantizers and multiplied
    with fp32 results).  ``fmt``: the number format of the matmul operands, whose
    hardware the cost model ranks it with (``hw.rank`` takes the format's
    most parallel costed unit).  ``linear``: the function of
    :mod:`gpu_ref.layers` that computes ``x @ w.T`` (forward and both
    backward matmuls).  ``quantizer``: what happens to each matmul operand.
    ``scaling``: ``tensorwise``/``rowwise`` scales of the FP8 recipes;
    ``grad_fmt``: the FP8 format of gradients.  ``rht``: a 16-point random
    Hadamard transform on the weight-gradient operands (NVFP4 recipe).
    ``optimizer``: ``adamw`` or ``madam_lns`` (weights held in LNS).
    ``gpu_peak``: the key of the matrix mode in ``results/h100/peaks_*.json``
    its matmuls run at (None for emulated precisions).  ``matmul`` (emulated
    precisions): a key of :data:`MATMULS`, how the quantized operands are
    multiplied on bf16 tensor cores with fp32 results.
    """

    name: str
    fmt: str
    native: bool
    linear: str
    quantizer: str
    optimizer: str = "adamw"
    scaling: str | None = None
    grad_fmt: str | None = None
    rht: bool = False
    gpu_peak: str | None = None
    matmul: str = "bf16"

    def linear_function(self):
        """The autograd-aware ``f(x, weight, layer)`` of :mod:`gpu_ref.layers` (imports torch)."""
        from . import layers

        return getattr(layers, self.linear)


_RECORDS = [
    Precision("bf16", "bf16", True, "bf16_linear", "none: bf16 autocast", gpu_peak="bf16"),
    Precision("fp8_tensorwise", "e4m3", True, "fp8_linear",
              "current per-tensor amax scaling; E4M3 activations and weights, E5M2 gradients (torchao float8)",
              scaling="tensorwise", grad_fmt="e5m2", gpu_peak="fp8_e4m3"),
    Precision("fp8_rowwise", "e4m3", True, "fp8_linear",
              "per-row scales along each reduction; E4M3 everywhere (the row-wise kernel takes E4M3 only)",
              scaling="rowwise", grad_fmt="e4m3", gpu_peak="fp8_e4m3"),
    Precision("mxfp8_e4m3", "mxfp8_e4m3", False, "fake_quant_linear", "MXFP8 E4M3 blocks along each reduction"),
    Precision("mxfp4", "mxfp4", False, "fake_quant_linear", "MXFP4 blocks along each reduction"),
    Precision("nvfp4", "nvfp4", False, "fake_quant_linear", "NVFP4 blocks (and tensor scale) along each reduction"),
    Precision("nvfp4_rht", "nvfp4", False, "fake_quant_linear",
              "NVFP4, with a 16-point random Hadamard transform on the weight-gradient operands", rht=True),
    Precision("posit8", "posit8", False, "fake_quant_linear", "posit8 after a power-of-two per-tensor RMS scale"),
    Precision("posit16", "posit16", False, "fake_quant_linear", "posit16 after a power-of-two per-tensor RMS scale",
              matmul="bf16x2"),
    Precision("lns8", "lns8", False, "fake_quant_linear", "lns8 after a power-of-two per-tensor RMS scale",
              optimizer="madam_lns", matmul="bf16x3"),
]

#: Every precision by name, in the order tables list them.
PRECISIONS = {p.name: p for p in _RECORDS}
NATIVE = tuple(p.name for p in _RECORDS if p.native)
EMULATED = tuple(p.name for p in _RECORDS if not p.native)


def names() -> list[str]:
    return list(PRECISIONS)


def get(name: str) -> Precision:
    """The precision called ``name``; ValueError naming the valid ones otherwise."""
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; valid: {', '.join(PRECISIONS)}")
    return PRECISIONS[name]

"""The built-in unit kinds: exact multiplier, adder, MAC, dot product, quire read-out, block quantizer,
LNS log-to-linear converter and tensor-core step, each one :class:`~hw.rtl.registry.UnitKind` record.

Builders check their options before constructing anything (no half-built
component); references are the golden model (:mod:`hw.formats`), the one
function each unit is generated against and verified with.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import formats
from ..formats import FP32, BlockFormat, LNSFormat, QuireFormat, block, golden, tensorcore
from .block import BlockDotUnit, QuantUnit
from .lns import LNSLinearUnit, LNSMacUnit, LNSMulUnit
from .registry import UnitKind, lanes_of, reference, register
from .stimulus import (block_dot_vectors, dot_vectors, lns_mac_vectors, mac_vectors, operand_pairs,
                       posit_dot_vectors, quant_vectors, quire_mac_vectors, quire_values, tensorcore_vectors)
from .tensorcore import FusedDotUnit
from .units import AddUnit, DotUnit, MulUnit, ReadoutUnit
from .workload import TERMS, Workload, dot_chains, fp32_blocks, gaussian_codes
from .workload import operand_pairs as gaussian_pairs

__all__ = ["MUL", "ADD", "MAC", "DOT", "READOUT", "QUANT", "LINEAR", "TENSORCORE", "check_accumulator",
           "pair_stimulus", "pair_workload", "torch_inputs", "torch_codes"]


def check_accumulator(fmt, acc):
    """ValueError unless ``acc`` (None: the default) is one of ``fmt``'s accumulators."""
    if acc is not None and acc.name not in formats.accumulators(fmt):
        raise ValueError(f"unknown accumulator {acc.name!r} for {fmt.name}; valid: {', '.join(formats.accumulators(fmt))}")


def _column(values) -> np.ndarray:
    """Outputs of one lane as (n,)."""
    values = np.asarray(values)
    return values.reshape(len(values))


def torch_codes(t) -> np.ndarray:
    """Codes held in an int64 tensor (two's complement beyond 2**63) as uint64 (n,) or (n, lanes)."""
    return t.cpu().numpy().astype(np.uint64)


def torch_inputs(inputs: dict, device):
    """int64 tensors of the inputs (codes below 2**63) on ``device``."""
    import torch

    return {port: torch.from_numpy(np.asarray(v).astype(np.int64)).to(device) for port, v in inputs.items()}


def pair_stimulus(unit, rng, n):
    """Every operand pair (formats of up to 8 bits) or corner pairs plus ``n`` random ones."""
    a, b = operand_pairs(unit.fmt, n, rng)
    return {"a": a[:, None], "b": b[:, None]}


def pair_workload(unit, vectors, rng):
    """Independent standard-normal operand pairs, one operation each."""
    inputs = gaussian_pairs(unit.fmt, vectors, rng)
    return Workload(inputs, reference(unit, inputs), 1)


# -- mul: the exact multiplier ------------------------------------------------------------------
def _build_mul(fmt, stages):
    return (LNSMulUnit if isinstance(fmt, LNSFormat) else MulUnit)(fmt, stages=stages)


def _gpu_mul(unit, inputs, device):
    if isinstance(unit.fmt, LNSFormat):
        return None
    from gpu_ref import numerics

    t = torch_inputs(inputs, device)
    return {"product": torch_codes(numerics.mul(unit.fmt, t["a"][:, 0], t["b"][:, 0]))}


MUL = register(UnitKind(
    name="mul",
    summary="exact product a*b in fmt.product_format() (nothing rounded)",
    families=("float", "int", "posit", "lns"),
    build=_build_mul,
    reference=lambda unit, inputs: {"product": _column(golden.mul(unit.fmt, lanes_of(inputs, "a")[:, 0],
                                                                  lanes_of(inputs, "b")[:, 0]))},
    stimulus=pair_stimulus,
    workload=pair_workload,
    ports=(("a", "operand"), ("b", "operand"), ("product", "the exact product, a code of fmt.product_format()")),
    samples=(("e4m3", {"stages": 1}), ("int8", {}), ("posit8", {}), ("lns8", {}), ("bf16", {"stages": 2})),
    gpu_reference=_gpu_mul,
))


# -- add -----------------------------------------------------------------------------------------
ADD = register(UnitKind(
    name="add",
    summary="round(a + b) in the operand format (integers wrap)",
    families=("float", "int", "posit"),
    build=lambda fmt, stages: AddUnit(fmt, stages=stages),
    reference=lambda unit, inputs: {"sum": _column(golden.add(unit.fmt, lanes_of(inputs, "a")[:, 0],
                                                              lanes_of(inputs, "b")[:, 0]))},
    stimulus=pair_stimulus,
    workload=pair_workload,
    ports=(("a", "operand"), ("b", "operand"), ("sum", "round(a + b), RNE, in the operand format")),
    samples=(("e4m3", {}), ("fp16", {"stages": 1}), ("int8", {}), ("posit8es2", {})),
))


# -- mac and dot: accumulating units -------------------------------------------------------------
def _accumulate(unit, inputs):
    """Golden ``acc_out`` of a DotUnit, LNS MAC or block dot unit."""
    a, b = lanes_of(inputs, "a"), lanes_of(inputs, "b")
    acc = np.asarray(inputs["acc_in"])
    if isinstance(unit, LNSMacUnit):
        out = unit.fmt.mac(a, b, acc, grouped=unit.grouped)
    elif isinstance(unit, BlockDotUnit):
        out = block.block_dot(unit.fmt, a, inputs["a_scale"], b, inputs["b_scale"], acc, unit.acc,
                              align_bits=unit.align_bits)
    else:
        out = golden.dot(unit.fmt, a, b, acc, unit.acc)
    return {"acc_out": _column(out)}


def _accumulator_value(unit):
    """Reads accumulator codes as float64."""
    if isinstance(unit, LNSMacUnit):
        return unit.fmt.acc_value
    return lambda codes: np.asarray(unit.acc.decode(codes), dtype=np.float64)


def _chain_workload(unit, vectors, rng):
    fmt_b = unit.fmt_b if isinstance(unit, FusedDotUnit) else None
    return dot_chains(unit, vectors, rng, lambda inputs: reference(unit, inputs)["acc_out"],
                      _accumulator_value(unit), fmt_b)


def _accumulate_stimulus(unit, rng, n):
    fmt = unit.fmt
    if isinstance(unit, LNSMacUnit):
        a, b, acc = lns_mac_vectors(fmt, unit.lanes, n, rng)
    elif isinstance(unit, BlockDotUnit):
        a, b, sa, sb, acc = block_dot_vectors(fmt, unit.acc, n, rng)
        return {"a": a, "b": b, "a_scale": sa, "b_scale": sb, "acc_in": acc}
    elif isinstance(unit.acc, QuireFormat):
        if unit.lanes > 1:
            a, b, acc = posit_dot_vectors(fmt, unit.lanes, n, rng)
        else:
            pa, pb = operand_pairs(fmt, n, rng)
            a, b, acc = quire_mac_vectors(fmt, pa, pb, rng)
    elif unit.lanes > 1:
        a, b, acc = dot_vectors(fmt, unit.acc, unit.lanes, n, rng)
    else:
        pa, pb = operand_pairs(fmt, n, rng)
        a, b, acc = mac_vectors(fmt, unit.acc, pa, pb, rng)
    return {"a": np.asarray(a).reshape(len(acc), -1), "b": np.asarray(b).reshape(len(acc), -1), "acc_in": acc}


def _gpu_accumulate(unit, inputs, device):
    from gpu_ref import block as gblock
    from gpu_ref import lns as glns
    from gpu_ref import numerics

    fmt = unit.fmt
    if isinstance(unit.acc, QuireFormat):
        count = numerics.quire_limb_count(unit.acc)
        t = torch_inputs({"a": inputs["a"], "b": inputs["b"]}, device)
        acc = numerics.Limbs.from_ints(np.asarray(inputs["acc_in"], dtype=object), count, device)
        return {"acc_out": np.asarray(numerics.Limbs.to_ints(numerics.quire_mac(fmt, t["a"], t["b"], acc)), dtype=object)}
    if isinstance(unit, LNSMacUnit) and fmt.acc_bits > 62:
        return None
    t = torch_inputs(inputs, device)
    if isinstance(unit, LNSMacUnit):
        out = glns.lns_mac(fmt, t["a"], t["b"], t["acc_in"])
    elif isinstance(unit, BlockDotUnit):
        if unit.align_bits is not None or unit.acc != FP32:
            return None
        out = gblock.block_dot(fmt, t["a"], t["a_scale"], t["b"], t["b_scale"], t["acc_in"])
    else:
        out = numerics.mac(fmt, t["a"], t["b"], t["acc_in"], unit.acc)
    return {"acc_out": torch_codes(out)}


_ACC_PORTS = (("a", "operands, lanes codes packed, lane 0 in the LSBs"), ("b", "operands, as a"),
              ("acc_in", "accumulator code"), ("acc_out", "round(acc_in + sum_i a[i] b[i]), one rounding"))


def _build_mac(fmt, stages, lanes=None, acc=None, grouped=False):
    check_accumulator(fmt, acc)
    if isinstance(fmt, LNSFormat):
        if lanes is not None and (not isinstance(lanes, int) or lanes < 1):
            raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
        return LNSMacUnit(fmt, lanes or 1, stages=stages, grouped=grouped)
    if grouped:
        raise ValueError("grouped conversion applies to LNS MAC units")
    if lanes not in (None, 1):
        raise ValueError(f"a mac unit has one lane, not {lanes!r}; use --unit dot for several")
    acc = acc or formats.default_accumulator(fmt)
    DotUnit.check(fmt, acc, 1)
    return DotUnit(fmt, acc, lanes=1, stages=stages)


MAC = register(UnitKind(
    name="mac",
    summary="acc_out = round(acc_in + a*b) (posits: the quire; LNS: the vector PE, any lanes)",
    families=("float", "int", "posit", "lns"),
    build=_build_mac,
    reference=_accumulate,
    stimulus=_accumulate_stimulus,
    workload=_chain_workload,
    ports=_ACC_PORTS,
    options=("lanes", "acc", "grouped"),
    samples=(("e4m3", {"stages": 2}), ("int8", {}), ("posit8", {}), ("e5m2", {"acc": "bf16", "stages": 4}),
             ("lns8", {"lanes": 16}), ("lns8", {"lanes": 16, "grouped": True, "stages": 2})),
    default_for=("float", "int", "posit", "lns"),
    gpu_reference=_gpu_accumulate,
))


def _build_dot(fmt, stages, lanes=None, acc=None, align_bits=None):
    check_accumulator(fmt, acc)
    if isinstance(fmt, BlockFormat):
        if lanes not in (None, fmt.block_size):
            raise ValueError(f"a {fmt.name} dot unit takes one block of {fmt.block_size} elements, not {lanes!r} lanes")
        return BlockDotUnit(fmt, acc, stages=stages, align_bits=align_bits)
    if align_bits is not None:
        raise ValueError("align_bits applies to the dot units of block formats")
    lanes = 4 if lanes is None else lanes
    if not isinstance(lanes, int) or lanes < 2:
        raise ValueError(f"a dot unit needs lanes >= 2, not {lanes!r} (one lane is --unit mac)")
    acc = acc or formats.default_accumulator(fmt)
    DotUnit.check(fmt, acc, lanes)
    return DotUnit(fmt, acc, lanes=lanes, stages=stages)


DOT = register(UnitKind(
    name="dot",
    summary="acc_out = round(acc_in + sum_i a[i]*b[i]), one rounding (block formats: one block with its scales)",
    families=("float", "int", "posit", "block"),
    build=_build_dot,
    reference=_accumulate,
    stimulus=_accumulate_stimulus,
    workload=_chain_workload,
    ports=_ACC_PORTS + (("a_scale", "block formats: a's block scale code"), ("b_scale", "b's block scale code")),
    options=("lanes", "acc", "align_bits"),
    samples=(("e4m3", {"lanes": 8, "stages": 3}), ("int8", {"lanes": 16, "stages": 2}), ("posit8", {"lanes": 4}),
             ("mxfp4", {}), ("mxfp4", {"align_bits": 10, "stages": 3}), ("nvfp4", {"stages": 2})),
    default_for=("block",),
    gpu_reference=_gpu_accumulate,
))


# -- readout: quire -> posit ---------------------------------------------------------------------
def _readout_workload(unit, vectors, rng):
    """Quires holding 64-term dot products of standard-normal posits, read out."""
    fmt, quire = unit.fmt, unit.acc
    x = rng.standard_normal((2, vectors, TERMS))
    (a, _), (b, _) = gaussian_codes(fmt, x[0]), gaussian_codes(fmt, x[1])
    acc = golden.dot(fmt, a, b, np.zeros(vectors, dtype=object), quire)
    inputs = {"acc_in": np.asarray(acc, dtype=object)}
    return Workload(inputs, reference(unit, inputs), 1)


def _gpu_readout(unit, inputs, device):
    from gpu_ref import numerics

    limbs = numerics.Limbs.from_ints(np.asarray(inputs["acc_in"], dtype=object),
                                     numerics.quire_limb_count(unit.acc), device)
    return {"result": torch_codes(numerics.quire_readout(unit.fmt, limbs))}


READOUT = register(UnitKind(
    name="readout",
    summary="the quire on acc_in rounded (RNE, once) to its posit",
    families=("posit",),
    build=lambda fmt, stages: ReadoutUnit(fmt, stages=stages),
    reference=lambda unit, inputs: {"result": _column(golden.convert(unit.acc, unit.fmt, np.asarray(inputs["acc_in"])))},
    stimulus=lambda unit, rng, n: {"acc_in": quire_values(unit.fmt, rng, n)},
    workload=_readout_workload,
    ports=(("acc_in", "the quire, two's complement, LSB minpos**2"), ("result", "the posit nearest the quire")),
    samples=(("posit8", {"stages": 1}), ("posit16", {}), ("posit32", {"stages": 2})),
    gpu_reference=_gpu_readout,
))


# -- quant: one block of fp32 -> elements and scale ----------------------------------------------
def _quantize_rows(unit, inputs):
    fmt = unit.fmt
    values = FP32.decode(lanes_of(inputs, "a"))
    if not fmt.tensor_scale:
        t = block.quantize(fmt, values)
        return {"elements": t.elements, "scale": t.scales[:, 0]}
    rows = [block.quantize(fmt, v[None], tensor_scale=s) for v, s in zip(values, FP32.decode(inputs["tensor_scale"]))]
    return {"elements": np.concatenate([t.elements for t in rows]), "scale": np.array([t.scales[0, 0] for t in rows])}


def _quant_stimulus(unit, rng, n):
    x, ts = quant_vectors(unit.fmt, n, rng)
    return {"a": x, **({"tensor_scale": ts} if unit.fmt.tensor_scale else {})}


def _quant_workload(unit, vectors, rng):
    """Blocks of standard-normal activations (rows scaled by 2^-4..2^4); NVFP4's tensor scale over the whole stream."""
    fmt = unit.fmt
    x = fp32_blocks(fmt.block_size, vectors, rng)
    inputs = {"a": x}
    if fmt.tensor_scale:
        ts = block.quantize(fmt, FP32.decode(x)).tensor_scale
        inputs["tensor_scale"] = np.full(vectors, FP32.encode(ts), dtype=np.uint64)
    return Workload(inputs, _quantize_rows(unit, inputs), fmt.block_size)


def _gpu_quant(unit, inputs, device):
    if unit.fmt.tensor_scale:
        return None
    import torch

    from gpu_ref import block as gblock

    x = torch.from_numpy(FP32.decode(lanes_of(inputs, "a")).astype(np.float32)).to(device)
    elements, scales, _ = gblock.quantize(unit.fmt, x)
    return {"elements": torch_codes(elements), "scale": torch_codes(scales[:, 0])}


QUANT = register(UnitKind(
    name="quant",
    summary="one block of fp32 quantized: element codes and the block's scale (NVFP4: with its fp32 tensor scale)",
    families=("block",),
    build=lambda fmt, stages: QuantUnit(fmt, stages=stages),
    reference=_quantize_rows,
    stimulus=_quant_stimulus,
    workload=_quant_workload,
    ports=(("a", "one block of fp32 codes"), ("tensor_scale", "NVFP4: the fp32 tensor scale"),
           ("elements", "the block's element codes"), ("scale", "the block's scale code")),
    samples=(("mxfp8_e4m3", {"stages": 1}), ("mxfp4", {}), ("nvfp4", {"stages": 2}), ("mxint8", {})),
    gpu_reference=_gpu_quant,
))


# -- linear: LNS product -> fixed point ----------------------------------------------------------
def _linear_reference(unit, inputs):
    width = unit.fmt.linear_width
    linear = unit.fmt.to_linear(lanes_of(inputs, "a")[:, 0]).astype(object) & ((1 << width) - 1)
    return {"linear": _column(linear)}


def _linear_workload(unit, vectors, rng):
    pairs = gaussian_pairs(unit.fmt, vectors, rng)
    inputs = {"a": unit.fmt.mul(pairs["a"], pairs["b"])}
    return Workload(inputs, _linear_reference(unit, inputs), 1)


def _linear_stimulus(unit, rng, n):
    a, b = operand_pairs(unit.fmt, n, rng)
    return {"a": unit.fmt.mul(a, b)[:, None]}


LINEAR = register(UnitKind(
    name="linear",
    summary="LNS product code -> signed fixed-point term T[r] << (q - qmin) on the accumulator grid",
    families=("lns",),
    build=lambda fmt, stages: LNSLinearUnit(fmt, stages=stages),
    reference=_linear_reference,
    stimulus=_linear_stimulus,
    workload=_linear_workload,
    ports=(("a", "a product code of fmt.product_format()"), ("linear", "the signed term, two's complement")),
    samples=(("lns8", {"stages": 1}), ("lns8g4", {})),
))


# -- tensorcore: one fused step of a GPU matrix unit ---------------------------------------------
def _build_tensorcore(fmt, stages, lanes=None, acc=None, align_bits=None, fmt_b=None, spec=None):
    spec = tensorcore.get_spec(spec) if spec else tensorcore.default_spec(fmt.name)
    if acc not in (None, spec.output):
        raise ValueError(f"a {spec.name} unit accumulates in {spec.output.name} and has no --acc choice")
    if align_bits is not None:
        if not isinstance(align_bits, int) or not 2 <= align_bits <= 160:
            raise ValueError(f"align_bits must be an int between 2 and 160, not {align_bits!r}")
        spec = replace(spec, name=f"{spec.name}_a{align_bits}", align_bits=align_bits)
    FusedDotUnit.check(spec, fmt, fmt if fmt_b is None else fmt_b, spec.step if lanes is None else lanes)
    return FusedDotUnit(spec, fmt, fmt_b, lanes=lanes, stages=stages)


def _tensorcore_stimulus(unit, rng, n):
    a, b, acc = tensorcore_vectors(unit.spec, unit.fmt, unit.fmt_b, unit.lanes, n, rng)
    return {"a": a, "b": b, "acc_in": acc}


TENSORCORE = register(UnitKind(
    name="tensorcore",
    summary="one fused step of a GPU matrix unit (FusedDotSpec): lanes products and the accumulator (fp32/fp16)",
    families=("float",),
    build=_build_tensorcore,
    reference=lambda unit, inputs: {"acc_out": _column(tensorcore.step(
        unit.spec, unit.fmt, unit.fmt_b, lanes_of(inputs, "a"), lanes_of(inputs, "b"), np.asarray(inputs["acc_in"])))},
    stimulus=_tensorcore_stimulus,
    workload=_chain_workload,
    ports=_ACC_PORTS,
    options=("lanes", "acc", "align_bits", "fmt_b", "spec"),
    samples=(("e4m3", {"stages": 2}), ("e5m2", {"lanes": 8, "align_bits": 24}), ("e4m3", {"fmt_b": "e5m2"}),
             ("bf16", {"lanes": 4, "spec": "h100_bf16"}), ("e4m3", {"lanes": 8, "spec": "b200_fp8"}),
             ("fp16", {"lanes": 4, "spec": "v100_fp16_to_fp16"}), ("tf32", {"spec": "h100_tf32"})),
))

"""Throughput of the Triton quantizers on a GPU beside torchao's and the device-to-device copy, in one run.

``python -m gpu_ref.bench [--elements N] [--json FILE]`` (CUDA).  Bytes
counted are the ones a kernel must move: the input (bf16 or fp32) plus codes
(4-bit elements packed two per byte) and one scale byte per block for a
quantizer; the reverse for a dequantizer (bf16 out); 4 bytes per element for a fake quantizer (bf16
in, bf16 values out), also timed on the transposed view (blocks along columns, strided reads), as
the training's weight-gradient operands are.  NVFP4 quantizers are
timed with the tensor scale given (as torchao's ``nvfp4_quantize`` takes it)
and, for this package, also with it computed on the device (one more pass
over the input).  torchao's functions run under ``torch.compile``, as a user
would run them; a torchao figure that cannot be taken says why.  Times are GPU times of calls queued back
to back (:func:`gpu_ref.peaks.time_ms`); each row also gives the host's time per call (``host_us``), which
bounds the rate of calls that are not captured in a CUDA graph.
"""

from __future__ import annotations

import argparse
import sys

import torch

from hw import formats

from . import kernels, peaks

__all__ = ["measure"]


def _entry(fn, nbytes: int) -> dict:
    """GPU time (:func:`peaks.time_ms`), bandwidth and the host's time per call of ``fn``."""
    ms = peaks.time_ms(fn)
    return {"ms": round(ms, 5), "gbs": round(nbytes / ms / 1e6, 1), "host_us": round(peaks.host_us(fn), 1)}


def _torchao(fmt, x: torch.Tensor, ts: torch.Tensor | None) -> dict:
    """torchao's quantize and dequantize of ``x`` under torch.compile (the calls to time), or the reason they
    could not be made."""
    out = {}
    try:
        import torchao
        from torchao.prototype.mx_formats import mx_tensor, nvfp4_tensor
        out["version"] = torchao.__version__
    except Exception as err:  # noqa: BLE001 - any import failure is reported, not raised
        return {"error": f"torchao unavailable: {str(err).splitlines()[0]}"}
    try:
        if fmt.tensor_scale:
            quantize = torch.compile(lambda t: nvfp4_tensor.nvfp4_quantize(t, 16, ts))
            made = nvfp4_tensor.NVFP4Tensor.to_nvfp4(x, 16, ts)
            dequantize = torch.compile(lambda t: t.dequantize(torch.bfloat16))
            out["quantize"] = lambda: quantize(x)
            out["dequantize"] = lambda: dequantize(made)
        else:
            elem = torch.float8_e4m3fn if fmt.element.name == "e4m3" else "fp4_e2m1"
            quantize = torch.compile(lambda t: mx_tensor.to_mx(t, elem, fmt.block_size))
            scale, data = mx_tensor.to_mx(x, elem, fmt.block_size)
            dequantize = torch.compile(lambda d, s: mx_tensor.to_dtype(d, s, elem, fmt.block_size, torch.bfloat16))
            out["quantize"] = lambda: quantize(x)
            out["dequantize"] = lambda: dequantize(data, scale)
        out["quantize"]()  # compiled here, so that a failure is reported as this row's error
        out["dequantize"]()
    except Exception as err:  # noqa: BLE001
        reason = str(err).splitlines()[0] if str(err) else ""
        return {"version": out["version"], "error": f"{type(err).__name__}: {reason}"}
    return out


def measure(elements: int, progress: str | None = None) -> dict:
    """The figures; with ``progress``, the JSON so far is rewritten there after every row (a run cut short
    keeps what it measured).  Rows run from the core quantizers to the optional ones."""
    import json

    import torch._dynamo

    from hw.files import write_atomic

    torch._dynamo.config.cache_size_limit = 64
    x32 = torch.randn(elements // 8192, 8192, device="cuda")
    xb = x32.to(torch.bfloat16)
    n = x32.numel()
    copy = peaks.copy_bandwidth_gbs()
    result = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "triton": __import__("triton").__version__, "elements": n, "copy_gbs": round(copy, 1), "kernels": {}}
    rows = result["kernels"]

    def add(key, row):
        if "gbs" in row:
            row["of_copy"] = round(row["gbs"] / copy, 3)
        rows[key] = row
        print(key, row, flush=True)
        if progress:
            write_atomic(progress, json.dumps(result, indent=1))

    formats_ = [formats.get(name) for name in ("mxfp8_e4m3", "nvfp4", "mxfp4")]
    scales = {fmt.name: kernels.tensor_scale(fmt, xb) if fmt.tensor_scale else None for fmt in formats_}
    for fmt in formats_:  # the quantizers the issue sets targets for, then torchao's, first
        coded = n * fmt.element.width // 8 + n // fmt.block_size
        ts = scales[fmt.name]
        add(f"{fmt.name}_quantize_bf16", _entry(lambda: kernels.block_quantize(fmt, xb, ts=ts), 2 * n + coded))
        ao = _torchao(fmt, xb, ts)
        result.setdefault("torchao_version", ao.get("version"))
        for job, nbytes in (("quantize", 2 * n + coded), ("dequantize", coded + 2 * n)):
            key = f"{fmt.name}_{job}_bf16_torchao"
            add(key, _entry(ao[job], nbytes) if job in ao else {"error": ao.get("error", "not measured")})
    for fmt in formats_:
        coded = n * fmt.element.width // 8 + n // fmt.block_size
        ts = scales[fmt.name]
        codes, block_scales, ts = kernels.block_quantize(fmt, xb, ts=ts)
        add(f"{fmt.name}_dequantize_bf16", _entry(
            lambda: kernels.block_dequantize(fmt, codes, block_scales, ts, xb.shape[1], dtype=torch.bfloat16),
            coded + 2 * n))
        add(f"{fmt.name}_quantize_fp32", _entry(lambda: kernels.block_quantize(fmt, x32, ts=ts), 4 * n + coded))
        if fmt.tensor_scale:
            add(f"{fmt.name}_quantize_bf16_with_tensor_scale",
                _entry(lambda: kernels.block_quantize(fmt, xb), 4 * n + coded))
        add(f"{fmt.name}_fake_quantize_bf16",
            _entry(lambda: kernels.block_quantize(fmt, xb, ts=ts, values=True), 4 * n))
        add(f"{fmt.name}_fake_quantize_bf16_transposed",  # blocks along columns, as the training's wgrad operands
            _entry(lambda: kernels.block_quantize(fmt, xb.t(), ts=ts, values=True), 4 * n))
    for name, rounding in (("posit8", "rne"), ("lns8", "rne"), ("posit16", "rne"), ("e4m3", "rne"), ("e4m3", "sr"),
                           ("e2m1", "sr")):
        fmt = formats.get(name)
        nbytes = n * 4 + n * (1 if fmt.width <= 8 else 4)
        add(f"encode_{name}_{rounding}_fp32", _entry(lambda: kernels.encode(fmt, x32, rounding, seed=1), nbytes))
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m gpu_ref.bench", description=__doc__.splitlines()[0])
    p.add_argument("--elements", type=int, default=1 << 28, help="input elements (default 2**28)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.elements < 8192 or args.elements % 8192:
        print(f"gpu_ref.bench: error: --elements must be a positive multiple of 8192, not {args.elements}",
              file=sys.stderr)
        return 2
    return peaks.emit("gpu_ref.bench", lambda: measure(args.elements, args.json), args.json)


if __name__ == "__main__":
    sys.exit(main())

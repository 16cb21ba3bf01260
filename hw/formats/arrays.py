"""What the formats take as codes and as values: one checked conversion each.

Codes (``decode``, ``unpack``, every ``golden`` function) are integers in
``0 .. 2**width - 1``: Python ints, numpy integer arrays, or object arrays of
ints.  Out-of-range codes raise ValueError naming the range; floats raise
TypeError (a float is a value, not a code).  Two readings are defined on top:

* a numpy signed-integer array whose item is exactly ``width`` bits wide
  (``np.int8`` codes of ``int8``) is read as the two's-complement bit pattern;
* an array of a low-precision dtype (ml_dtypes', e.g.
  ``ml_dtypes.float8_e4m3fn`` or ``int4``, or a torch tensor of any dtype) is
  read *by bit pattern* when it is the format's own dtype (``fmt.dtype``), so
  ``e4m3.decode(x)`` of a ``float8_e4m3fn`` array gives its values; any other
  float dtype raises TypeError.

Values (``encode``) are real numbers: Python or numpy numbers, numpy arrays of
a numeric dtype, ml_dtypes arrays and torch tensors (CPU or not; converted
exactly to float64 *by value*).  None, strings, booleans and complex numbers
raise TypeError.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_codes", "as_values", "as_flag", "to_numpy", "float32_exact"]


def to_numpy(x):
    """A torch tensor as a numpy array (bfloat16 and float8 through ml_dtypes); anything else unchanged."""
    if type(x).__module__.split(".")[0] != "torch":
        return x
    import ml_dtypes
    import torch

    x = x.detach().cpu()
    exotic = {torch.bfloat16: ml_dtypes.bfloat16, torch.float8_e4m3fn: ml_dtypes.float8_e4m3fn,
              torch.float8_e5m2: ml_dtypes.float8_e5m2, torch.float8_e4m3fnuz: ml_dtypes.float8_e4m3fnuz,
              torch.float8_e5m2fnuz: ml_dtypes.float8_e5m2fnuz}
    if x.dtype in exotic:
        width = x.element_size() * 8
        raw = {8: torch.uint8, 16: torch.int16}[width]
        return x.view(raw).numpy().view(exotic[x.dtype])
    return x.numpy()


def _float_like(dtype) -> bool:
    return dtype.kind in "fcV" or (dtype.kind not in "iubO" and dtype != np.dtype(object))


def as_codes(bits, width: int, fmt_name: str, own_dtype=None, name: str = "bits") -> np.ndarray:
    """``bits`` as an integer array of codes of a ``width``-bit format, checked (see the module docstring).

    Returns int64 codes for ``width <= 62``, else an object array of Python ints.
    """
    bits = to_numpy(bits)
    if isinstance(bits, (bool, np.bool_)) or (isinstance(bits, np.ndarray) and bits.dtype == bool):
        raise TypeError(f"{name} of {fmt_name} must be integer codes, not booleans")
    array = np.asarray(bits)
    if array.size == 0 and not isinstance(bits, np.ndarray):  # [] has no dtype of its own
        return np.zeros(array.shape, dtype=np.int64 if width <= 62 else object)
    dtype = array.dtype
    if own_dtype is not None and dtype == np.dtype(own_dtype) and _float_like(dtype):
        if dtype.name.startswith(("int", "uint")):  # ml_dtypes' int2/int4 hold values, sign-extended: mask them
            array = array.astype(np.int64) & ((1 << width) - 1)
        else:
            array = array.view(f"u{dtype.itemsize}")
        dtype = array.dtype
    if _float_like(dtype):
        hint = (f"; an array of {fmt_name}'s own dtype ({np.dtype(own_dtype).name}) is read by bit pattern"
                if own_dtype is not None and _float_like(np.dtype(own_dtype)) else "")
        raise TypeError(f"{name} of {fmt_name} must be integer codes, not {dtype.name} values "
                        f"(encode values first{hint})")
    if dtype.kind == "i" and dtype.itemsize * 8 == width:
        array = array.view(f"u{dtype.itemsize}")
    elif dtype == object:
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in array.flat):
            bad = next(v for v in array.flat
                       if not isinstance(v, numbers.Integral) or isinstance(v, (bool, np.bool_)))
            kind = "values" if isinstance(bad, numbers.Real) else "objects"
            raise TypeError(f"{name} of {fmt_name} must be integer codes, not {type(bad).__name__} {kind} ({bad!r})")
    top = (1 << width) - 1
    if array.size:
        low, high = (min(array.flat), max(array.flat)) if dtype == object else (array.min(), array.max())
        if int(low) < 0 or int(high) > top:
            worst = int(low) if int(low) < 0 else int(high)
            raise ValueError(f"{name} of {fmt_name} must be codes in 0..{top} ({width} bits), got {worst}")
    if width <= 62:
        return array.astype(np.int64)
    return np.asarray(array, dtype=object) if dtype == object else array.astype(np.uint64).astype(object)


def as_values(values, fmt_name: str, name: str = "values") -> np.ndarray:
    """``values`` as float64, exactly (see the module docstring); TypeError for non-numbers."""
    values = to_numpy(values)
    if values is None or isinstance(values, (str, bytes, bool, np.bool_, complex)):
        raise TypeError(f"{name} to encode as {fmt_name} must be real numbers, not {type(values).__name__}")
    array = np.asarray(values)
    if array.dtype == object:
        for v in array.flat:
            if not isinstance(v, numbers.Real) or isinstance(v, (bool, np.bool_)):
                raise TypeError(f"{name} to encode as {fmt_name} must be real numbers, not {type(v).__name__} "
                                f"({v!r})")
    elif array.dtype.kind in "USbc" or array.dtype == bool:
        raise TypeError(f"{name} to encode as {fmt_name} must be real numbers, not {array.dtype.name}")
    return array.astype(np.float64)


def float32_exact(values) -> np.ndarray | None:
    """``values`` as a float32 array when every value is exactly a float32 (no copy for float32), else None.

    Arrays of 16-bit and smaller numeric dtypes (fp16, ml_dtypes' bfloat16 and
    float8, int8/int16) qualify by type; float64 arrays by comparison.
    """
    array = to_numpy(values)
    if not isinstance(array, np.ndarray) or array.dtype == bool:
        return None
    dtype = array.dtype
    if dtype == np.float32:
        return array
    if (dtype.kind in "iufV" and dtype.itemsize <= 2) and dtype.names is None:
        return array.astype(np.float32)
    if dtype == np.float64:
        with np.errstate(over="ignore", invalid="ignore"):
            narrow = array.astype(np.float32)
        return narrow if np.array_equal(narrow, array, equal_nan=True) else None
    return None


def as_flag(value, name: str) -> bool:
    """A keyword that must be a bool (``saturate="no"`` is an error, not ``True``)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return bool(value)

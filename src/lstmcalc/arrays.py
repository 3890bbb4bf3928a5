"""Arrays from binary files (.npy, .npz, .safetensors), checked before they are built.

A header says a shape and a dtype: both are checked (numbers only; the size against the input
cap) before a byte of the array is allocated, so a small file cannot claim gigabytes. Every
array that becomes weights or inputs passes `numeric`: real numbers (no bools, complex
numbers, strings or objects), finite, as float64.
"""

import io
import json
import math

import numpy as np

from lstmcalc.errors import DataError


def numeric(name: str, value: np.ndarray, source: str, owned: bool = False) -> np.ndarray:
    """value as a float64 array, refusing what is not a finite real number. owned: value is
    the caller's own new array, kept as it is when it is float64 already (no copy)."""
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind == "b":
        raise DataError(f"{name} holds booleans (dtype {arr.dtype}), not weights", source)
    if kind == "c":
        raise DataError(f"{name} holds complex numbers (dtype {arr.dtype}); lstmcalc computes "
                        "with real ones", source)
    if kind not in "fiu":
        raise DataError(f"{name} holds {arr.dtype} values, not numbers", source)
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(np.float64, copy=not owned)
    bad = ~np.isfinite(out)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        what = "beyond float64's range" if np.isfinite(arr[index]) else "not finite"
        raise DataError(f"{name}{list(index)} is {what} ({arr[index]})", source)
    return out


def check_size(name: str, shape: tuple[int, ...], itemsize: int, source: str,
               max_bytes: int) -> None:
    """Refuse an array whose values would take more than max_bytes as float64 (or as
    stored, whichever is larger), before it is built."""
    count = math.prod(shape)
    size = count * max(itemsize, 8)
    if size > max_bytes:
        raise DataError(f"{name} has shape {tuple(shape)}: {size:,} bytes, over the "
                        f"{max_bytes:,}-byte cap (raise it with --max-input-bytes)", source)


# A damaged archive or header surfaces as nearly any exception from zipfile, zlib and NumPy's
# format module (ValueError, EOFError, struct.error, zlib.error, NotImplementedError, ...):
# each is the file's fault, said as one data error.
_UNREADABLE = Exception


def _header(fp, name: str, source: str, max_bytes: int) -> tuple[tuple[int, ...], bool,
                                                                  np.dtype]:
    """A .npy header's shape, Fortran order and dtype, checked; fp is left at the data."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    except _UNREADABLE as e:
        raise DataError(f"{name}: not a readable .npy header: {e}", source) from None
    if dtype.hasobject:
        raise DataError(f"{name} holds Python objects, not numbers", source)
    check_size(name, shape, dtype.itemsize, source, max_bytes)
    return shape, fortran, dtype


def load_npy(data: bytes, source: str, max_bytes: int) -> np.ndarray:
    """The array of a .npy file, its header checked first. Where the data is exactly the
    array the header says, a read-only view of the bytes (no copy: 10 MB of sequence read
    once); otherwise np.load says what is wrong."""
    if not data.startswith(b"\x93NUMPY"):
        raise DataError("not a .npy file (it does not begin with NumPy's magic bytes)", source)
    fp = io.BytesIO(data)
    shape, fortran, dtype = _header(fp, "the array", source, max_bytes)
    count, offset = math.prod(shape), fp.tell()
    if len(data) == offset + count * dtype.itemsize:
        flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        return flat.reshape(shape, order="F" if fortran else "C")
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except _UNREADABLE as e:
        raise DataError(f"not a readable .npy file: {e}", source) from None


def load_npz(data: bytes, source: str, max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays of a .npz file by name, every member's header and size checked first (a
    compressed member may unpack to far more than the file)."""
    try:
        import zipfile  # here: only .npz files need it

        with zipfile.ZipFile(io.BytesIO(data)) as z:
            total = 0
            for info in z.infolist():
                name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                total += info.file_size
                if total > max_bytes:
                    raise DataError(f"the arrays unpack to more than the {max_bytes:,}-byte cap "
                                    "(raise it with --max-input-bytes)", source)
                with z.open(info) as fp:
                    _header(fp, name, source, max_bytes)
    except DataError:
        raise
    except _UNREADABLE as e:
        raise DataError(f"not a readable .npz file: {e}", source) from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except _UNREADABLE as e:
        raise DataError(f"not a readable .npz file: {e}", source) from None


_SAFETENSORS_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8",
                       "I32": "<i4", "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4",
                       "U16": "<u2", "U8": "u1", "BOOL": "?"}


def load_safetensors(data: bytes, source: str,
                     max_bytes: int) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The tensors of a .safetensors file by name, and each one's stored dtype (bfloat16 is
    widened to float32 exactly). The format (an 8-byte header length, a JSON header of names,
    dtypes, shapes and byte offsets, then the bytes) is read here, every entry checked against
    the buffer before an array is built; no package needed."""
    def bad(why: str) -> DataError:
        return DataError(f"not a readable .safetensors file: {why}", source)

    if len(data) < 8:
        raise bad("shorter than its 8-byte header length")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise bad(f"its header claims {size:,} bytes; the file has {len(data) - 8:,} after it")
    try:
        header = json.loads(data[8:8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"its header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    buffer = memoryview(data)[8 + size:]
    out, dtypes = {}, {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not (isinstance(entry, dict) and isinstance(entry.get("dtype"), str)
                and isinstance(entry.get("shape"), list)
                and isinstance(entry.get("data_offsets"), list)
                and len(entry["data_offsets"]) == 2
                and all(type(v) is int and v >= 0
                        for v in [*entry["shape"], *entry["data_offsets"]])):
            raise bad(f"the entry {name!r} is not {{dtype, shape, data_offsets}}")
        stored = entry["dtype"]
        if stored not in _SAFETENSORS_DTYPES:
            raise DataError(f"{name} is stored as {stored}, which lstmcalc does not read "
                            f"({', '.join(_SAFETENSORS_DTYPES)})", source)
        dtype = np.dtype(_SAFETENSORS_DTYPES[stored])
        shape = tuple(entry["shape"])
        begin, end = entry["data_offsets"]
        check_size(name, shape, dtype.itemsize, source, max_bytes)
        if not begin <= end <= len(buffer) or end - begin != math.prod(shape) * dtype.itemsize:
            raise bad(f"the bytes of {name!r} ({begin}..{end}) do not hold its shape "
                      f"{list(shape)} of {stored} within the file")
        value = np.frombuffer(buffer[begin:end], dtype=dtype).reshape(shape)
        if stored == "BF16":  # the high half of a float32: widening is exact
            value = (value.astype(np.uint32) << 16).view(np.float32)
        out[name] = value
        dtypes[name] = "bfloat16" if stored == "BF16" else str(value.dtype)
    return out, dtypes

"""Reader of the IDX format of MNIST and Fashion-MNIST (optionally gzip-compressed)."""

import gzip
from pathlib import Path

import numpy as np

from t2c.errors import DataError

IDX_DTYPES = {  # IDX type code -> numpy dtype (values are big-endian)
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file.

    The header is two zero bytes, a type code, the number of dimensions d, then d big-endian
    uint32 sizes; the values follow in C order.

    Returns:
        The array with the header's shape, in native byte order.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as file:
            data = file.read()
    except (OSError, EOFError) as error:
        raise DataError(f"cannot read IDX file {path}: {error}; reinstall the data package") from error

    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (header {data[:4].hex()}); reinstall the data package")

    dtype = IDX_DTYPES[data[2]]
    ndim = data[3]
    header_size = 4 + 4 * ndim
    shape = tuple(int(size) for size in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))

    expected = header_size + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise DataError(
            f"IDX file {path} has {len(data)} bytes but its header {shape} needs {expected}; "
            "the file is truncated or damaged, reinstall the data package"
        )

    values = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))

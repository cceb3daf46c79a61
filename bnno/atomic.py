"""Files written in one step: a temporary file beside the target, flushed to disk, then
renamed over it, so that a kill at any moment leaves either the old file or the new one.

A write that fails (a full disk, a read-only folder) raises ``BnnoError`` with one line
naming the file; the old file, if any, is untouched and the temporary one removed.

Example:
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "run.json"
    >>> write_text(path, '{"epochs": 3}')
    >>> path.read_text()
    '{"epochs": 3}'
    >>> with replaced(path) as tmp:  # for writers that need a path (HDF5, TFLite)
    ...     _ = tmp.write_text("new")
    >>> path.read_text(), sorted(p.name for p in path.parent.iterdir())
    ('new', ['run.json'])
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from bnno.errors import BnnoError


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    # The rename itself is durable only once the folder's entry is on disk.
    with contextlib.suppress(OSError):
        _fsync(folder)


@contextlib.contextmanager
def replaced(path: str | Path, sync: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on leaving the block it replaces
    ``path`` in one step (flushed to disk first with ``sync``). If the block fails, the
    temporary file is removed and ``path`` is left as it was; an ``OSError`` becomes a
    ``BnnoError`` naming ``path``.

    The temporary name keeps the suffix (``x.tmp-<pid>.h5``): HDF5 and TFLite writers
    choose their format by it.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "weights.h5"
        >>> with replaced(path) as tmp:
        ...     _ = tmp.write_bytes(b"HDF")
        ...     tmp.name.endswith(".h5"), path.exists()
        (True, False)
        >>> path.read_bytes()
        b'HDF'
    """
    path = Path(path)
    tmp = _temporary(path, os.getpid())
    try:
        yield tmp
        if sync:
            _fsync(tmp)
        os.replace(tmp, path)
        if sync:
            _fsync_dir(path.parent)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise BnnoError(f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _temporary(path: Path, pid: int | str) -> Path:
    return path.with_name(f"{path.stem}.tmp-{pid}{path.suffix}")


def leftovers(path: str | Path) -> list[Path]:
    """The temporary files of writes to ``path`` that are there: left by writes a kill cut
    short, unless another process is writing ``path`` now.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "run.json"
        >>> _ = path.with_name("run.tmp-4242.json").write_text('{"mod')
        >>> [p.name for p in leftovers(path)]
        ['run.tmp-4242.json']
    """
    path = Path(path)
    return [p for p in path.parent.glob(_temporary(path, "*").name) if is_temporary(p.name)]


def is_temporary(name: str) -> bool:
    """Is ``name`` the temporary file of a write (``replaced``): one under way, or one that
    a kill cut short (the target then still holds its old content, or does not exist)?

    Example:
        >>> [is_temporary(n) for n in ("run.tmp-812.json", "weights.tmp-9.h5", "run.json")]
        [True, True, False]
    """
    return re.fullmatch(r".+\.tmp-\d+(\.[^.]+)?", name) is not None


def write_bytes(path: str | Path, data: bytes, sync: bool = True) -> None:
    """Write ``data`` to ``path`` in one step (see ``replaced``).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "model.tflite"
        >>> write_bytes(path, b"TFL3")
        >>> path.read_bytes()
        b'TFL3'
    """
    with replaced(path, sync) as tmp, open(tmp, "wb") as f:
        f.write(data)


def write_text(path: str | Path, text: str, sync: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` in one step (see ``replaced``).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "metrics.jsonl"
        >>> write_text(path, '{"epoch": 1}\\n')
        >>> path.read_text()
        '{"epoch": 1}\\n'
    """
    write_bytes(path, text.encode("utf-8"), sync)

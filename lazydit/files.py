"""Writing a file so that no reader ever sees half of it: write beside it, rename onto it at the end."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError


@contextmanager
def atomic_write(path: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to write; renamed onto ``path`` when the block succeeds,
    removed when it fails. ``keep_suffix`` ends the temporary name with ``path``'s suffix, for writers that
    append their own (``numpy.savez``)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(
            f"{path}: its folder {path.parent} is (under) a file, not a folder; choose another path"
        ) from None
    except PermissionError:
        raise UserError(f"{path}: cannot create its folder {path.parent} (permission denied)") from None
    tmp = path.with_name(path.stem + ".tmp" + path.suffix) if keep_suffix else path.with_name(path.name + ".tmp")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)

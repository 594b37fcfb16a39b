"""Safe file names, and safe writes of files into an output folder (``attnwidget export``).

Names come from the capture: site names, class names and labels, any of which
may be long, hold ``/`` or control characters, or differ only by case. Here
they become file names that every common file system accepts:

* :func:`safe_name` keeps letters, digits, ``.``, ``-`` and ``_`` (Unicode
  letters included, in NFC form) and shortens a long name to a readable prefix
  plus a hash of the whole name, so two long names never share a file;
* :func:`unique_names` makes a list of file names fit :data:`MAX_NAME_BYTES`
  and tells apart names that are equal on a case-insensitive file system
  (macOS, Windows): equal after NFC normalisation and case folding.

:func:`check_folder` refuses an output folder before anything is written (a
file where the folder should be, files that already exist, a file that is the
export's own input); :func:`write_into` writes one file to a temporary name in
the folder and renames it, so a failure never leaves a torn file and never
writes through a symlink.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ._files import new_temporary, remove_stale_temporaries
from .errors import AttnwidgetError, listing

__all__ = [
    "MAX_NAME_BYTES",
    "PART_BYTES",
    "safe_name",
    "shorten",
    "fold",
    "unique_names",
    "ExportError",
    "FilesExistError",
    "check_folder",
    "make_folder",
    "write_into",
    "clean_stale_temporaries",
]

#: the most bytes (UTF-8) of one file name written; file systems allow 255, and a margin keeps
#: names valid where a sync tool or an encrypted home folder adds its own characters
MAX_NAME_BYTES = 200
#: the most bytes a site or class name takes inside a file name, so several fit in one
PART_BYTES = 80
#: hex digits of the hash that ends a shortened name
HASH_CHARS = 10

_UNSAFE = re.compile(r"[^\w.-]+")


class ExportError(AttnwidgetError, OSError):
    """An output folder that cannot be written, or a write into it that failed."""


class FilesExistError(ExportError, FileExistsError):
    """Files an export would write already exist in its folder (``existing``: their names)."""

    def __init__(self, message: str, folder: str = "", existing: Sequence[str] = ()):
        super().__init__(message)
        self.folder = folder
        self.existing = list(existing)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]


def _cut(text: str, limit: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form fits ``limit`` bytes (no character split)."""
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[: max(limit, 0)].decode("utf-8", "ignore")


def shorten(name: str, limit: int, original: str | None = None) -> str:
    """``name`` if it fits ``limit`` UTF-8 bytes, else a prefix of it, ``~`` and a hash.

    The hash is of ``original`` (default ``name``): the full text the name was
    made from, so two long names that share their prefix still differ.
    """
    if len(name.encode("utf-8", "surrogatepass")) <= limit:
        return name
    tail = "~" + _digest(name if original is None else original)
    return _cut(name, limit - len(tail)).rstrip("._-") + tail


def safe_name(text: Any, limit: int = PART_BYTES) -> str:
    """A site or class name made safe for a file name.

    Parameters
    ----------
    text : any
        The name (``str()`` of it is used).
    limit : int
        The most UTF-8 bytes of the result; a longer name keeps a readable
        prefix and ends with ``~`` and a hash of the whole name.

    Returns
    -------
    str
        Letters, digits, ``.``, ``-`` and ``_`` only (runs of anything else
        become one ``_``), in NFC form; ``"site"`` for a name with none.
    """
    raw = str(text)
    name = _UNSAFE.sub("_", unicodedata.normalize("NFC", raw)).strip("_") or "site"
    # a name of dots alone would read as the folder itself or its parent on its own
    if set(name) == {"."}:
        name = "site"
    return shorten(name, limit, original=raw)


def fold(name: str) -> str:
    """The key under which case-insensitive file systems compare names: NFC, then case-folded."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


def _split_ext(name: str) -> tuple[str, str]:
    stem, ext = os.path.splitext(name)
    return (stem, ext) if stem else (name, "")


def _fit(name: str, limit: int) -> str:
    stem, ext = _split_ext(name)
    if len(name.encode("utf-8", "surrogatepass")) <= limit:
        return name
    return shorten(stem, limit - len(ext.encode()), original=name) + ext


def unique_names(names: Sequence[str], limit: int = MAX_NAME_BYTES) -> list[str]:
    """File names that each fit ``limit`` bytes and stay apart on every file system.

    Names equal after :func:`fold` (``Spoof.png`` and ``spoof.png`` overwrite
    each other on macOS and Windows) each get ``~`` and a hash of their exact
    name before the extension; the result depends on the names alone, not on
    their order. The same name given twice stays the same name.
    """
    fitted = [_fit(n, limit) for n in names]
    groups: dict[str, set[str]] = {}
    for n in fitted:
        groups.setdefault(fold(n), set()).add(n)
    out = []
    for original, n in zip(names, fitted):
        if len(groups[fold(n)]) == 1:
            out.append(n)
            continue
        stem, ext = _split_ext(n)
        tail = "~" + _digest(original)
        out.append(shorten(stem, limit - len(ext.encode()) - len(tail), original=original) + tail + ext)
    if len({fold(n) for n in out}) != len(set(out)):  # a hash collision: never seen, but never write twice
        raise ExportError("two file names of this export cannot be told apart; rename a site or class")
    return out


def _parent_problem(folder: str) -> str | None:
    """Why ``folder`` cannot be created, judged from its nearest existing ancestor (or None)."""
    path = os.path.abspath(folder)
    while not os.path.lexists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    if not os.path.isdir(path):
        return f"{path!r} is a file, not a folder"
    return None


def check_folder(
    folder: str | os.PathLike,
    names: Iterable[str],
    *,
    overwrite: bool = False,
    protect: Iterable[str | os.PathLike] = (),
) -> list[str]:
    """Refuse an output folder before anything is written into it.

    Parameters
    ----------
    folder : str or os.PathLike
        The output folder; it may not exist yet.
    names : iterable of str
        The file names the export will write there.
    overwrite : bool
        Allow replacing files that already exist (a symlink among them is
        replaced itself, never written through).
    protect : iterable of paths
        Files that must never be written (the export's input), whatever
        ``overwrite`` says.

    Returns
    -------
    list of str
        The names that exist already (replaced only with ``overwrite``).

    Raises
    ------
    ExportError
        The folder is a file or lies inside one, cannot be listed, or a name
        is one of ``protect``.
    FilesExistError
        Some names exist and ``overwrite`` is false; ``.existing`` lists them.
    """
    folder = os.fspath(folder)
    names = list(names)
    if os.path.lexists(folder) and not os.path.isdir(folder):
        what = (
            "a link to a file"
            if os.path.islink(folder) and os.path.exists(folder)
            else "a link to nothing"
            if os.path.islink(folder)
            else "a file"
        )
        raise ExportError(
            f"the output folder {folder!r} is {what}, not a folder; choose a folder "
            "(it is created if missing)"
        )
    if not os.path.isdir(folder):
        problem = _parent_problem(folder)
        if problem:
            raise ExportError(f"the output folder {folder!r} cannot be created: {problem}; choose another")
        return []
    try:
        present = {fold(e): e for e in os.listdir(folder)}
    except OSError as e:
        raise ExportError(
            f"cannot read the output folder {folder!r}: {e.strerror or e}; choose one you can read and write"
        ) from None
    guarded = []
    for p in protect:
        try:
            st = os.stat(p)
            guarded.append((st.st_dev, st.st_ino))
        except OSError:
            continue
    existing = []
    for n in names:
        hit = present.get(fold(n))
        if hit is None:
            continue
        existing.append(hit)
        try:
            st = os.stat(os.path.join(folder, hit))
        except OSError:  # a dangling symlink: replaced itself, never followed
            continue
        if (st.st_dev, st.st_ino) in guarded:
            raise ExportError(
                f"the export would write {hit!r} in {folder!r}, which is its own input file; "
                "choose another output folder"
            )
    if existing and not overwrite:
        raise FilesExistError(
            f"{len(existing)} file(s) of this export already exist in {folder!r}: "
            f"{listing(existing, most=5)}; allow overwriting them or choose an empty "
            "folder",
            folder,
            existing,
        )
    return existing


def make_folder(folder: str | os.PathLike) -> list[str]:
    """Create ``folder`` and any missing parents; returns those it created, deepest last."""
    folder = os.path.abspath(os.fspath(folder))
    missing = []
    path = folder
    while not os.path.lexists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    created = []
    try:
        for p in reversed(missing):
            os.mkdir(p)
            created.append(p)
    except OSError as e:
        remove_folders(created)
        raise ExportError(
            f"cannot create the output folder {folder!r}: {e.strerror or e}; {advice(e)}"
        ) from None
    return created


def remove_folders(created: Sequence[str]) -> None:
    """Remove folders :func:`make_folder` created, deepest first, where they are still empty."""
    for p in reversed(list(created)):
        try:
            os.rmdir(p)
        except OSError:
            return


def advice(e: OSError) -> str:
    """What to do about a failed write, by its error number."""
    if e.errno in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", -1)):
        return "free some space or choose another output folder"
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "choose a folder you can write to"
    if e.errno == errno.ENAMETOOLONG:
        return "choose a shorter output folder path"
    return "check the output folder or choose another"


def clean_stale_temporaries(folder: str) -> list[str]:
    """Remove temporary files that killed writers left in ``folder`` (an export killed mid-file).

    The temporaries of every writer are named as :func:`attnwidget._files.new_temporary`
    names them; only those of dead processes of this host and user are removed
    (:func:`attnwidget._files.remove_stale_temporaries`).
    """
    return remove_stale_temporaries(folder=folder)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_into(folder: str, name: str, write: Callable[[str], Any], *, overwrite: bool = False) -> str:
    """Write one file into ``folder`` whole or not at all; returns its path.

    ``write(path)`` writes a temporary file in ``folder`` that has the
    extension of ``name`` (writers pick the format from it); it is then renamed
    to ``name``. A symlink at ``name`` is replaced, never followed. Without
    ``overwrite``, an existing ``name`` is left alone (:class:`FilesExistError`).
    Any ``OSError`` of the write propagates after the temporary file is removed.
    """
    final = os.path.join(folder, name)
    tmp = new_temporary(final, _split_ext(name)[1])  # an OSError (read-only folder...) propagates
    try:
        write(tmp)
        if overwrite:
            os.replace(tmp, final)
            return final
        try:
            os.link(tmp, final)  # fails if anything is at `final`: no clobbering, even in a race
        except FileExistsError:
            raise FilesExistError(
                f"{name!r} appeared in {folder!r} during the export; nothing replaced it", folder, [name]
            ) from None
        except OSError as e:
            if e.errno not in (
                errno.EPERM,
                errno.EXDEV,
                errno.EMLINK,
                errno.ENOSYS,
                getattr(errno, "EOPNOTSUPP", -1),
                getattr(errno, "ENOTSUP", -1),
            ):
                raise
            # a file system without hard links: rename, having looked first
            if os.path.lexists(final):
                raise FilesExistError(
                    f"{name!r} appeared in {folder!r} during the export", folder, [name]
                ) from None
            os.replace(tmp, final)
            return final
        _unlink(tmp)
        return final
    except BaseException:
        _unlink(tmp)
        raise

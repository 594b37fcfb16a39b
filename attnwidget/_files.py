"""Capture and checkpoint files: one atomic writer, one checked reader, values JSON can hold.

Both file kinds are ``.npz`` archives (a zip of ``.npy`` arrays) holding one
JSON header as a 0-d string array named ``header``:

- :func:`write_archive` / :func:`atomic_write`: the single writer. It writes
  to a temporary file in the target's folder (``.{name}.attnwidget-tmp-{pid}-
  {host}-{random}``), flushes and fsyncs it, moves it over the target with
  ``os.replace`` and fsyncs the folder, so a crash leaves the old file or the
  new one, never a torn file. The new file's mode follows the umask, as a plain
  ``open()`` would. Each write first deletes temporaries of the same target left
  by writers of this host and user that are no longer alive (a SIGKILL mid-write
  leaves one behind); a live writer's files and anyone else's are never touched.
  Only bool, integer and float arrays are written: nothing needs pickle.
- :class:`Archive`: the single reader. It reads every member's ``.npy`` header
  (shape and dtype) without decompressing its data, so a file's structure can
  be checked against its JSON header (:func:`check_capture`) and its total size
  bounded before anything large is allocated. Every problem is a
  :class:`~attnwidget.errors.CaptureFileError` that says what is wrong and what to do.
- :func:`encode_values` / :func:`decode_values`: labels and predictions that
  are strings, or Python objects such as ``None``, become integer codes plus a
  table of names in the header, and load back equal.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import math
import os
import secrets
import socket
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np
import numpy.lib.format as npy_format

from .errors import CaptureFileError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ArrayInfo",
    "Archive",
    "atomic_write",
    "write_archive",
    "remove_stale_temporaries",
    "new_temporary",
    "open_temporary",
    "temporary_prefix",
    "json_text",
    "token_strings",
    "encode_values",
    "decode_values",
    "check_capture",
    "MISSING_CODE",
]

#: the default bound on the decompressed size of what a file's arrays and header take in memory
DEFAULT_MAX_BYTES = 4 * 2**30

#: the code a missing value (``None``) gets in an encoded label or prediction array
MISSING_CODE = -1

_NUMERIC = "biuf"  # bool, signed and unsigned integers, floats: the dtypes files may hold
_TMP_MARK = ".attnwidget-tmp-"
_NPY_MAGIC = b"\x93NUMPY"
_MAX_NPY_HEADER = 10000  # numpy's own bound on one .npy header, against crafted files
_KINDS = ("self", "cross", "weights")
Fail = Callable[..., Exception]  # fail(problem, advice=None) -> the exception to raise

# what reading a damaged archive can raise, from zipfile, zlib, lzma, numpy and the json parser
_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    OverflowError,
    RuntimeError,
    NotImplementedError,
    RecursionError,
    struct.error,
    zlib.error,
    lzma.LZMAError,
    MemoryError,
)


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


# ---------------------------------------------------------------------------------------------- writing
def temporary_prefix(path: str) -> str:
    """The start of every temporary file name used while writing ``path`` (without the folder)."""
    base = os.path.basename(path)
    if len(base.encode("utf-8", "surrogatepass")) > 120:
        # a name near the file system's limit would leave no room for the suffix: shorten it, stably
        digest = hashlib.sha1(base.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        base = base[:60] + "~" + digest
    return f".{base}{_TMP_MARK}"


def _host_tag() -> str:
    # a folder may be shared between machines (NFS): a pid only means something on its own host
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a pid we could have written: never treat it as dead
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists but belongs to someone else (EPERM), or unknown: leave its files alone
    return True


def _dead_writers_file(folder: str, name: str, suffix: str, host: str, me: int, uid: int) -> str | None:
    """``folder/name`` where ``suffix`` (what follows the mark: ``pid-host-random[.ext]``) says a
    writer of this host that is gone made it and it is a regular file of this user; else None."""
    parts = suffix.split("-")
    if len(parts) != 3 or not parts[0].isdigit() or parts[1] != host:
        return None
    pid = int(parts[0])
    if pid == me or _alive(pid):
        return None
    full = os.path.join(folder, name)
    try:
        st = os.lstat(full)
    except OSError:
        return None
    return full if st.st_mode & 0o170000 == 0o100000 and st.st_uid == uid else None


def remove_stale_temporaries(path: str | None = None, folder: str | None = None) -> list[str]:
    """Delete temporaries that dead writers of this host and user left behind.

    Of the target ``path``; or, with ``folder``, of every target in it (an export
    of many figures). A temporary is stale when its name says it was written on
    this host by a process id that no longer exists, and it is a regular file
    owned by the current user; a live writer's files and anyone else's are never
    touched. Returns the paths deleted. Does nothing on Windows, where a process's
    liveness cannot be asked the same way.
    """
    if os.name == "nt":
        return []
    if folder is None:
        assert path is not None
        folder = os.path.dirname(os.path.abspath(path))
    prefix = temporary_prefix(path) if path is not None else "."
    host, me, uid = _host_tag(), os.getpid(), os.getuid()
    removed: list[str] = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        at = name.rfind(_TMP_MARK)
        if not name.startswith(prefix) or at < 0 or (path is not None and at + len(_TMP_MARK) != len(prefix)):
            continue
        full = _dead_writers_file(folder, name, name[at + len(_TMP_MARK) :], host, me, uid)
        if full is None:
            continue
        try:
            os.unlink(full)
            removed.append(full)
        except OSError:
            pass  # gone already, or not ours to delete
    return removed


def open_temporary(path: str, ext: str = "") -> tuple[str, int]:
    """Create a temporary file beside ``path`` for writing it: ``(its path, an open descriptor)``.

    Named ``.{name}.attnwidget-tmp-{pid}-{host}-{random}{ext}`` (``ext``: writers that
    pick a format from the name, such as matplotlib's, need the target's extension), so
    that :func:`remove_stale_temporaries` knows a dead writer's leftovers. Created
    exclusively, never through a symlink; its mode follows the umask, as for any new file.
    """
    folder = os.path.dirname(os.path.abspath(path))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    start = f"{temporary_prefix(path)}{os.getpid()}-{_host_tag()}-"
    for _ in range(100):
        tmp = os.path.join(folder, f"{start}{secrets.token_hex(4)}{ext}")
        try:
            return tmp, os.open(tmp, flags | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
    raise OSError(f"cannot make a temporary file in {folder!r}")


def new_temporary(path: str, ext: str = "") -> str:
    """:func:`open_temporary`, closed: for writers that open the file by name themselves."""
    tmp, fd = open_temporary(path, ext)
    os.close(fd)
    return tmp


def atomic_write(path: str | os.PathLike, write: Callable[[io.BufferedWriter], None]) -> str:
    """Write a file through ``write(f)`` so that ``path`` is either its old or its new content.

    Parameters
    ----------
    path : str or path
        The file to create or replace (its folder is created if needed).
    write : callable
        Writes the whole content to the binary file object it is given.

    Returns
    -------
    str
        ``path``. The file's mode is ``0o666 & ~umask``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    remove_stale_temporaries(path)
    tmp, fd = open_temporary(path)  # the kernel applies the umask, as for open(path, "wb")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_folder(folder)
    return path


def _fsync_folder(folder: str) -> None:
    # makes the rename itself durable; not possible on every platform (e.g. Windows)
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_archive(path: str | os.PathLike, header_text: str, arrays: Mapping[str, np.ndarray]) -> str:
    """Write ``arrays`` and the JSON ``header_text`` as one ``.npz`` file with :func:`atomic_write`.

    Every array must be bool, integer or float (see :func:`encode_values` for
    the rest): a ``ValueError`` is raised before anything is written otherwise.
    """
    for key, a in arrays.items():
        if key == "header" or not isinstance(a, np.ndarray) or a.dtype.kind not in _NUMERIC:
            raise ValueError(f"internal: array {key!r} cannot be written ({getattr(a, 'dtype', type(a))})")
    body = dict(arrays)
    body["header"] = np.array(header_text)
    # np.savez looked up at call time: a test may replace it to simulate a full disk
    return atomic_write(path, lambda f: np.savez(f, **body))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- JSON values
def _plain(obj: Any, where: str, fail: Fail, depth: int = 0) -> Any:
    """``obj`` as values JSON holds (numpy scalars and arrays, tuples converted), or ``fail``."""
    if depth > 200:
        raise fail(f"{where} is nested more than 200 levels deep")
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj
    if isinstance(obj, np.generic) and obj.dtype.kind in _NUMERIC + "U":
        return obj.item()
    if isinstance(obj, np.ndarray) and obj.dtype.kind in _NUMERIC + "U":
        return obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{where}[{i}]", fail, depth + 1) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if isinstance(k, np.generic):
                k = k.item()
            if not (k is None or isinstance(k, (str, int, float, bool))):
                raise fail(
                    f"{where} has a key of type {type(k).__name__} ({k!r}); keys must be strings or numbers"
                )
            out[k if isinstance(k, str) else json.dumps(k)] = _plain(v, f"{where}[{k!r}]", fail, depth + 1)
        return out
    raise fail(
        f"{where} is a {type(obj).__module__}.{type(obj).__qualname__}, which a capture file cannot "
        "hold: use strings, numbers, lists and dicts"
    )


def json_text(obj: Any, where: str, fail: Fail) -> str:
    """``obj`` as JSON text (ASCII), raising ``fail(...)`` that names the first value JSON cannot hold."""
    return json.dumps(_plain(obj, where, fail))


def token_strings(tokens: Any, fail: Fail, where: str = "tokens", depth: int = 0) -> Any:
    """``tokens`` with every token a string: ``None``, strings, lists of them or dicts of those forms.

    Numbers become their ``str``; anything else (an object, bytes) is refused
    with ``fail``, naming where it is.
    """
    if depth > 4:
        raise fail(
            f"{where} is nested too deeply: tokens are a list of strings, "
            "{'query': [...], 'key': [...]}, or such a form per site"
        )
    if tokens is None or isinstance(tokens, str):
        return None if tokens is None else str(tokens)
    if isinstance(tokens, dict):
        out = {}
        for k, v in tokens.items():
            if not isinstance(k, str):
                raise fail(f"{where} has a key {k!r}: keys of tokens are site names, 'query' or 'key'")
            out[k] = token_strings(v, fail, f"{where}[{k!r}]", depth + 1)
        return out
    if isinstance(tokens, np.ndarray):
        tokens = tokens.tolist()
    if isinstance(tokens, (list, tuple)):
        items: list = []
        for i, t in enumerate(tokens):
            if isinstance(t, np.generic):
                t = t.item()
            if isinstance(t, (list, tuple, dict, np.ndarray)):
                items.append(token_strings(t, fail, f"{where}[{i}]", depth + 1))
            elif t is None or isinstance(t, (str, bool, int, float)):
                items.append(t if t is None else str(t))
            else:
                raise fail(f"{where}[{i}] is a {type(t).__qualname__}, not a string: give tokens as strings")
        return items
    raise fail(
        f"tokens are a {type(tokens).__qualname__}: give a list of strings, or "
        "{'query': [...], 'key': [...]}"
    )


def _scalar(v: Any, where: str, fail: Fail):
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise fail(
        f"{where} is a {type(v).__module__}.{type(v).__qualname__}; labels and predictions must be "
        "numbers or strings (None marks a missing one)"
    )


def encode_values(values: np.ndarray, where: str, fail: Fail) -> tuple[np.ndarray, dict | None]:
    """Labels or predictions as an array a file can hold, and the table that restores them.

    Bool, integer and float arrays come back unchanged with table None.
    Strings and object arrays (numbers, strings and ``None`` mixed) become
    ``int64`` codes into ``table["names"]`` (``None`` is :data:`MISSING_CODE`,
    -1); ``table["kind"]`` is ``"str"`` or ``"object"``, the dtype they load as.

    Raises ``fail(...)`` for anything else (bytes, dates, complex numbers,
    objects that are not numbers or strings), before anything is written.
    """
    values = np.asarray(values)
    kind = values.dtype.kind
    if kind in _NUMERIC:
        return values, None
    if values.ndim == 0:
        raise fail(f"{where} is a single value; give one per sample")
    if kind not in "UO":
        what = {"S": "bytes", "c": "complex numbers", "M": "dates", "m": "time spans"}.get(kind, "records")
        raise fail(
            f"{where} are {what} (dtype {values.dtype}), which a capture file does not hold: convert "
            "them to numbers or str"
        )
    if kind == "U":
        uniques, inverse = np.unique(values.reshape(-1), return_inverse=True)
        return inverse.astype(np.int64).reshape(values.shape), {"kind": "str", "names": uniques.tolist()}
    names: list = []
    index: dict = {}
    codes = np.empty(values.shape, dtype=np.int64)
    flat = codes.reshape(-1)
    for i, v in enumerate(values.reshape(-1).tolist()):
        v = _scalar(v, f"{where}[{i}]", fail)
        if v is None:
            flat[i] = MISSING_CODE
            continue
        # bool and int keys kept apart (True == 1), and every NaN one name
        key = (type(v).__name__, repr(v) if isinstance(v, float) else v)
        if key not in index:
            index[key] = len(names)
            names.append(v)
        flat[i] = index[key]
    return codes, {"kind": "object", "names": names}


def decode_values(codes: np.ndarray, table: Any, where: str, fail: Fail) -> np.ndarray:
    """Inverse of :func:`encode_values`: the labels or predictions ``codes`` and ``table`` stand for."""
    if (
        not isinstance(table, dict)
        or table.get("kind") not in ("str", "object")
        or not isinstance(table.get("names"), list)
    ):
        raise fail(f"the table of {where} is not a {{'kind', 'names'}} object")
    names = table["names"]
    if codes.dtype.kind not in "iu":
        raise fail(f"{where} are stored as {codes.dtype} codes, not integers")
    low = MISSING_CODE if table["kind"] == "object" else 0
    if codes.size and (codes.min() < low or codes.max() >= len(names)):
        raise fail(
            f"{where} hold codes from {codes.min()} to {codes.max()} for a table of {len(names)} names"
        )
    if table["kind"] == "str":
        if not all(isinstance(n, str) for n in names):
            raise fail(f"the table of {where} says strings but holds other values")
        return np.array(names, dtype=str)[codes] if names else np.zeros(codes.shape, dtype="<U1")
    bad = next((n for n in names if not (n is None or isinstance(n, (bool, int, float, str)))), None)
    if bad is not None:
        raise fail(f"the table of {where} holds a {type(bad).__name__}")
    lookup = np.empty(len(names) + 1, dtype=object)
    lookup[: len(names)] = names
    lookup[-1] = None  # code -1 (missing) indexes the last entry
    return lookup[codes]


# --------------------------------------------------------------------------------------------- reading
class ArrayInfo(NamedTuple):
    """One array's shape and dtype, as its ``.npy`` header declares them, and its size in memory."""

    shape: tuple[int, ...]
    dtype: np.dtype
    nbytes: int

    @classmethod
    def of(cls, a: np.ndarray) -> ArrayInfo:
        return cls(tuple(a.shape), a.dtype, int(a.nbytes))


class Archive:
    """An opened ``.npz`` file, read with checks; see the module docstring.

    Parameters
    ----------
    path : str
        The file (it must exist).
    what : str
        What it should be, for messages: ``"attnwidget capture"``.
    advice : str
        What to do about a damaged file, ending every message that has no
        better advice of its own.

    Attributes
    ----------
    members : dict
        Array name -> :class:`ArrayInfo`, from the ``.npy`` headers alone.
    """

    def __init__(self, path: str, what: str, advice: str) -> None:
        self.path, self.what, self.advice = path, what, advice
        self._zip: zipfile.ZipFile | None = None
        self.members: dict[str, ArrayInfo] = {}
        self._infos: dict[str, zipfile.ZipInfo] = {}
        if os.path.isdir(path):
            raise self.fail("it is a folder")
        try:
            with open(path, "rb") as f:
                start = f.read(len(_NPY_MAGIC))
        except OSError as e:
            raise self.fail(f"it cannot be opened ({e.strerror or e})", "check its permissions") from None
        if not start:
            raise self.fail("it is empty (0 bytes)")
        if start == _NPY_MAGIC:
            raise self.fail("it is a single .npy array, not a .npz archive (was it renamed?)")
        try:
            self._zip = zipfile.ZipFile(path)
            infos = self._zip.infolist()
        except _READ_ERRORS as e:
            self.close()
            raise self.fail(
                f"it is not a zip archive, or it is cut short ({type(e).__name__}: {e})"
            ) from None
        try:
            for info in infos:
                if not info.filename.endswith(".npy") or info.is_dir():
                    continue
                name = info.filename[:-4]
                if name in self._infos:
                    raise self.fail(f"it holds two arrays named {name!r}")
                self._infos[name] = info
                self.members[name] = self._array_header(name, info)
        except BaseException:
            self.close()
            raise

    # -- messages
    def fail(self, problem: str, advice: str | None = None) -> CaptureFileError:
        """The error to raise: ``'path' is not a readable <what>: <problem>; <advice>``."""
        return CaptureFileError(
            f"{self.path!r} is not a readable {self.what}: {problem}; {advice or self.advice}"
        )

    # -- structure
    def _array_header(self, name: str, info: zipfile.ZipInfo) -> ArrayInfo:
        assert self._zip is not None  # opened in __init__
        try:
            with self._zip.open(info) as f:
                version = npy_format.read_magic(f)
                readers = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
                if version not in readers:
                    raise ValueError(f".npy format version {version} is not one written for plain arrays")
                shape, _, dtype = readers[version](f, max_header_size=_MAX_NPY_HEADER)
                offset = f.tell()
        except CaptureFileError:
            raise
        except _READ_ERRORS as e:
            raise self.fail(f"array {name!r} has a damaged .npy header ({type(e).__name__}: {e})") from None
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size < offset + nbytes:
            raise self.fail(
                f"array {name!r} is cut short: its header declares {nbytes} bytes of data "
                f"and the archive holds {max(0, info.file_size - offset)}"
            )
        return ArrayInfo(tuple(int(s) for s in shape), dtype, int(nbytes))

    def require(self, name: Any, where: str, *, ndim: int | None = None, kinds: str = _NUMERIC) -> ArrayInfo:
        """The member a header entry names, checked to exist, to be of ``kinds`` and to have ``ndim`` axes."""
        return require_member(self.members, name, where, self.fail, ndim=ndim, kinds=kinds)

    def limit(self, names: Iterable[str], max_bytes: int | None) -> int:
        """Refuse (before reading) when the members ``names`` take more than ``max_bytes`` in memory."""
        total = sum(self.members[n].nbytes for n in set(names))
        if max_bytes is not None and total > max_bytes:
            raise self.fail(
                f"its arrays take {_gib(total)} in memory (from {_gib(os.path.getsize(self.path))} on disk), "
                f"above the {_gib(max_bytes)} limit",
                "if you trust the file and have the memory, load it with aw.load(path, max_bytes=None)",
            )
        return total

    def header(self, fmt: str, newest: int, max_bytes: int | None) -> dict:
        """The JSON header, checked to be an object of format ``fmt`` and version 1..``newest``."""
        if "header" not in self.members:
            raise self.fail("it has no attnwidget header")
        info = self.members["header"]
        if info.dtype.kind != "U" or info.shape != ():
            raise self.fail(
                f"its header is an array of dtype {info.dtype} and shape {info.shape}, not one JSON text"
            )
        self.limit(["header"], max_bytes)
        text = str(self.read("header", kinds="U"))
        try:
            header = json.loads(text)
        except RecursionError:
            raise self.fail("its JSON header is nested too deeply to read") from None
        except ValueError as e:
            raise self.fail(f"its header is not valid JSON ({e})") from None
        if not isinstance(header, dict):
            raise self.fail(f"its header is a JSON {type(header).__name__}, not an object")
        if header.get("format") != fmt:
            raise self.fail(f"its header says format {header.get('format')!r}, not {fmt!r}")
        version = header.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise self.fail(f"its header has no valid format version ({version!r})")
        if version > newest:
            raise self.fail(
                f"it was written by a newer attnwidget (format version {version}; this one reads "
                f"up to {newest})",
                "upgrade attnwidget (pip install -U attnwidget) to read it",
            )
        return header

    # -- data
    def read(self, name: str, kinds: str = _NUMERIC + "U") -> np.ndarray:
        """One member's array (never unpickles), checked against its declared shape and dtype."""
        info = self.members[name]
        if info.dtype.kind not in kinds or info.dtype.hasobject:
            raise self.fail(f"array {name!r} has dtype {info.dtype}")
        assert self._zip is not None  # opened in __init__
        try:
            with self._zip.open(self._infos[name]) as f:
                a = npy_format.read_array(f, allow_pickle=False, max_header_size=_MAX_NPY_HEADER)
                f.read(1)  # reach the end of the member, so zipfile checks its CRC
        except _READ_ERRORS as e:
            raise self.fail(f"array {name!r} is damaged or cut short ({type(e).__name__}: {e})") from None
        if a.shape != info.shape or a.dtype != info.dtype:
            raise self.fail(f"array {name!r} changed shape while it was read")
        return a

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def require_member(
    members: Mapping[str, ArrayInfo],
    name: Any,
    where: str,
    fail: Fail,
    *,
    ndim: int | None = None,
    kinds: str = _NUMERIC,
) -> ArrayInfo:
    """``members[name]``, checked (see :meth:`Archive.require`); usable on arrays about to be written."""
    if not isinstance(name, str) or name not in members:
        raise fail(f"{where} names array {name!r}, which it does not hold")
    info = members[name]
    if info.dtype.kind not in kinds or info.dtype.hasobject:
        allowed = {"b": "bool", "i": "int", "u": "uint", "f": "float", "U": "str"}
        raise fail(
            f"{where} is a {info.dtype} array; only {'/'.join(allowed[k] for k in kinds)} arrays are allowed"
        )
    if ndim is not None and len(info.shape) != ndim:
        raise fail(f"{where} has {len(info.shape)} axes {info.shape}, not {ndim}")
    return info


# ------------------------------------------------------------------------------------ capture structure
def _step(key: Any, steps: int, where: str, fail: Fail) -> int:
    try:
        step = int(key)
    except (TypeError, ValueError):
        raise fail(f"{where} has step {key!r}, not a number") from None
    if not 0 <= step < steps:
        raise fail(f"{where} has step {step}, outside the {steps} step(s) the header declares")
    return step


def _mapping(header: dict, key: str, fail: Fail, default: Any = None) -> dict:
    value = header.get(key, default)
    if not isinstance(value, dict):
        raise fail(f"its header's {key!r} is a {type(value).__name__}, not an object")
    return value


def check_capture(header: dict, members: Mapping[str, ArrayInfo], fail: Fail) -> set[str]:
    """Check a capture header against its arrays' shapes and dtypes; the arrays it references.

    Used by :func:`attnwidget.load` on what it read and by ``Capture.save`` on
    what it is about to write, so a file that ``save`` writes is one ``load``
    reads. Checks: sites are distinct strings with a known kind and named axes
    (``[sample, head, query, key]`` for ``"self"``/``"cross"``); each array
    exists, is bool/int/uint/float and has one axis per name; a site's arrays
    agree on the sample count; steps lie in ``0..steps-1``; statistics have one
    row per class; labels and predictions have one entry per sample.
    """
    from .store import ATTENTION_AXES  # store imports this module

    layers = header.get("layers")
    if not isinstance(layers, list) or not all(isinstance(n, str) for n in layers):
        raise fail("its header's 'layers' is not a list of site names")
    seen: set[str] = set()
    for name in layers:
        if name in seen:
            raise fail(f"site {name!r} is listed twice")
        seen.add(name)
    steps = header.get("steps")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise fail(f"its header's 'steps' is {steps!r}, not a count")
    kinds, axes = _mapping(header, "kinds", fail), _mapping(header, "axes", fail)
    info, arrays = _mapping(header, "info", fail, {}), _mapping(header, "arrays", fail, {})
    if not (header.get("tokens") is None or isinstance(header["tokens"], (list, dict, str))):
        raise fail(f"its header's 'tokens' is a {type(header['tokens']).__name__}")
    if not (header.get("metadata") is None or isinstance(header["metadata"], dict)):
        raise fail("its header's 'metadata' is not an object")
    used: set[str] = set()
    counts: set[int] = set()  # sample counts of sample-first sites
    for name in layers:
        kind, names = kinds.get(name), axes.get(name)
        if kind not in _KINDS:
            raise fail(f"site {name!r} has kind {kind!r}, not one of {', '.join(_KINDS)}")
        if not isinstance(names, list) or not names or not all(isinstance(a, str) and a for a in names):
            raise fail(f"site {name!r} has axes {names!r}, not a list of axis names")
        if kind != "weights" and tuple(names) != ATTENTION_AXES:
            raise fail(f"attention site {name!r} has axes {names}, not {list(ATTENTION_AXES)}")
        if not isinstance(info.get(name, {}), dict):
            raise fail(f"site {name!r} has info that is not an object")
        per_step = arrays.get(name, {})
        if not isinstance(per_step, dict):
            raise fail(f"the arrays of site {name!r} are not an object of step -> array")
        site_counts = set()
        for s, member in per_step.items():
            _step(s, steps, f"site {name!r}", fail)
            where = f"site {name!r} at step {s}"
            a = require_member(members, member, where, fail, ndim=len(names))
            used.add(member)
            if names[0] == "sample":
                site_counts.add(a.shape[0])
        if len(site_counts) > 1:
            raise fail(
                f"site {name!r} holds {' and '.join(map(str, sorted(site_counts)))} samples at "
                "different steps"
            )
        counts |= site_counts
    for name in arrays:
        if name not in seen:
            raise fail(f"its header has arrays for {name!r}, which is not among its sites")
    stats = _mapping(header, "stats", fail, {}) if header.get("stats") is not None else {}
    for name, per_step in stats.items():
        if name not in seen:
            raise fail(f"its header has statistics for {name!r}, which is not among its sites")
        if not isinstance(per_step, dict):
            raise fail(f"the statistics of site {name!r} are not an object of step -> statistics")
        for s, st in per_step.items():
            _step(s, steps, f"the statistics of site {name!r}", fail)
            where = f"the statistics of site {name!r} at step {s}"
            if (
                not isinstance(st, dict)
                or not isinstance(st.get("classes"), list)
                or not isinstance(st.get("arrays"), dict)
                or "count" not in st["arrays"]
            ):
                raise fail(f"{where} are not {{'classes': [...], 'arrays': {{'count': ..., ...}}}}")
            classes = st["classes"]
            if not all(c is None or isinstance(c, (str, int, float, bool)) for c in classes):
                raise fail(f"{where} have class keys that are not numbers or strings")
            for field, member in st["arrays"].items():
                ndim = {"count": 1, "entropy": 2}.get(
                    field, len(axes[name]) if field in ("mean", "var", "min", "max") else None
                )
                a = require_member(members, member, f"{where} ({field})", fail, ndim=ndim)
                if not a.shape or a.shape[0] != len(classes):
                    raise fail(
                        f"{where} ({field}) have {a.shape[0] if a.shape else 0} rows for "
                        f"{len(classes)} classes"
                    )
                used.add(member)
    used |= _check_samples(header, members, seen, fail)
    values = _mapping(header, "values", fail, {}) if header.get("values") is not None else {}
    for field in ("labels", "predictions"):
        table = values.get(field)
        if table is not None:
            if not isinstance(table, dict):
                raise fail(f"the table of {field} is not an object")
            member, kinds_ok = table.get("array"), "iu"
        elif field in members:
            member, kinds_ok = field, _NUMERIC + "U"  # version 1 files may hold string labels as such
        else:
            continue
        a = require_member(members, member, field, fail, kinds=kinds_ok)
        if not a.shape:
            raise fail(f"its {field} are a single value, not one per sample")
        if counts and a.shape[0] not in counts:
            raise fail(f"it has {a.shape[0]} {field} for {' or '.join(map(str, sorted(counts)))} samples")
        used.add(member)
    return used


def _check_samples(header: dict, members: Mapping[str, ArrayInfo], sites: set, fail: Fail) -> set[str]:
    """Check the valid positions (``'valid'``) and sample namings (``'sample_axes'``); the arrays used."""
    used: set[str] = set()
    valid = _mapping(header, "valid", fail, {}) if header.get("valid") is not None else {}
    for name, per_step in valid.items():
        if name not in sites or not isinstance(per_step, dict):
            raise fail(f"its header has valid positions for {name!r}, which is not among its sites")
        for s, pair in per_step.items():
            _step(s, header["steps"], f"the valid positions of site {name!r}", fail)
            if not isinstance(pair, list) or len(pair) != 2:
                raise fail(f"the valid positions of site {name!r} at step {s} are not [query, key]")
            shapes = [
                require_member(members, m, f"valid positions of {name!r}", fail, ndim=2, kinds="b")
                for m in pair
            ]
            if shapes[0].shape[0] != shapes[1].shape[0]:
                raise fail(f"the valid positions of site {name!r} at step {s} disagree on the sample count")
            used |= set(pair)
    axes = _mapping(header, "sample_axes", fail, {}) if header.get("sample_axes") is not None else {}
    for name, factors in axes.items():
        ok = (
            name in sites
            and isinstance(factors, list)
            and all(
                isinstance(f, list)
                and len(f) == 2
                and isinstance(f[0], str)
                and isinstance(f[1], list)
                and all(isinstance(v, str) for v in f[1])
                for f in factors
            )
        )
        if not ok:
            raise fail(f"its header's sample naming of {name!r} is not [[factor, [names]], ...] of a site")
    return used

"""The command line against hostile names, folders and disks (issue 11, item 15).

Every case runs ``python -m attnwidget`` in a subprocess on real files and
folders. The capture of most cases comes from a real model whose attention
modules (``nn.MultiheadAttention``) are registered under hostile names: 300
characters long, equal but for case, holding terminal escape sequences; it
also taps two weight sites named ``Gate`` and ``gate``.

A full disk is a real tiny tmpfs mounted in a private mount namespace
(``unshare``, where root may) and, everywhere, ``RLIMIT_FSIZE``; a read-only
folder is a read-only bind mount in such a namespace as root (chmod does not
stop root), a chmod-ed folder otherwise, and ``/sys`` where neither works.
Every failure must be one line on stderr, exit status 2, no traceback, and
leave only whole files behind.
"""

from __future__ import annotations

import functools
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import time
import unicodedata

import numpy as np
import pytest
import torch
from PIL import Image
from test_cli import ROOT, audio_run  # noqa: F401  (seed 000's capture, saved: a fixture)
from torch import nn

import attnwidget as aw
from attnwidget._names import MAX_NAME_BYTES, fold
from attnwidget.recipes.gallery import plan_gallery

LONG_A = "encoder_" + "a" * 292  # 300 bytes, more than any file system allows in a name
LONG_B = "encoder_" + "a" * 291 + "b"  # the same 299-byte prefix
ESCAPES = "x\x1b[2J\r\x07\x9b31m\u202ey"  # clear screen, carriage return, bell, C1 CSI, bidi override
SITES = [LONG_A, LONG_B, "Attn", "attn", ESCAPES]
TOKENS = ["<s>", "\x1b]0;pwned\x07", "\r\x1b[2K", "ok", "\u202eevil"]
TEMP_MARK = ".attnwidget-tmp-"  # in the name of every temporary file a writer makes (attnwidget._files)


class Hostile(nn.Module):
    """Self-attention blocks under hostile module names, and two tapped weight sites."""

    def __init__(self, dim: int = 16):
        super().__init__()
        for name in SITES:
            self.add_module(name, nn.MultiheadAttention(dim, 2, batch_first=True))
        self.gate = nn.Linear(dim, 3)

    def forward(self, x):
        for name in SITES:
            x = x + getattr(self, name)(x, x, x)[0]
        w = torch.softmax(self.gate(x).mean(1), dim=-1)
        aw.tap("Gate", w, axes=("sample", "layer"))
        aw.tap("gate", w.flip(-1), axes=("sample", "layer"))
        return x


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[pathlib.Path, aw.Capture]:
    """A real capture of :class:`Hostile`, saved, and the capture itself."""
    torch.manual_seed(0)
    model = Hostile().eval()
    with aw.capture(model) as cap:
        model(torch.randn(2, 5, 16))
    assert cap.layers[:5] == SITES and cap.kinds["Gate"] == "weights"
    cap.labels = np.array([0, 1])
    cap.tokens = TOKENS
    cap.metadata = {"note\x1b[31m": 1, "class_names": {"0": "Spoof\x1b[5m", "1": "spoof"}}
    path = tmp_path_factory.mktemp("hostile") / "hostile.npz"
    cap.save(path)
    return path, aw.load(path)


def cli(*args, prefix=(), preexec_fn=None, env=None, timeout=300) -> subprocess.CompletedProcess:
    """``python -m attnwidget ARGS``, its output as bytes (so raw control characters show)."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore", **(env or {}))
    return subprocess.run(
        [*prefix, sys.executable, "-m", "attnwidget", *map(str, args)],
        capture_output=True,
        cwd=ROOT,
        timeout=timeout,
        preexec_fn=preexec_fn,
        env=full_env,
    )


def failed(done: subprocess.CompletedProcess, *fragments: str) -> str:
    """Check the one-line failure: exit 2, ``attnwidget CMD: error: ...``, no traceback; the line."""
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 2, (done.returncode, err)
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith("attnwidget ") and ": error: " in lines[0], err
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def no_temporaries(folder: pathlib.Path) -> None:
    assert not [p.name for p in folder.iterdir() if TEMP_MARK in p.name]


@functools.lru_cache(maxsize=1)
def can_unshare() -> bool:
    """Whether this process may make a private mount namespace (root, with CAP_SYS_ADMIN)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    try:
        done = subprocess.run(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                'mount -t tmpfs -o size=4k tmpfs "$0"',
                "/mnt",
            ],
            capture_output=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def in_namespace(script: str, folder: pathlib.Path) -> list[str]:
    """A command prefix: run ``script`` (``$0`` = folder) in a private mount namespace, then the command."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(folder)]


def reference(cap_path: pathlib.Path, folder: pathlib.Path, *args: str) -> dict[str, pathlib.Path]:
    done = cli("export", cap_path, "--out", folder, "--quiet", *args)
    assert done.returncode == 0, done.stderr.decode()
    return {p.name: p for p in folder.iterdir()}


def same_content(a: pathlib.Path, b: pathlib.Path) -> bool:
    """Whether two exported files hold the same thing (PNG pixels, arrays, capture sites)."""
    if a.suffix == ".png":
        with Image.open(a) as x, Image.open(b) as y:
            return np.array_equal(np.asarray(x), np.asarray(y))
    if a.suffix == ".npy":
        return np.array_equal(np.load(a), np.load(b))
    if a.suffix == ".npz":
        x, y = aw.load(a), aw.load(b)
        return x.layers == y.layers and all(
            np.array_equal(x.get(n), y.get(n)) for n in x.layers if x.steps_of(n)
        )
    return a.read_bytes() == b.read_bytes()


# ---------------------------------------------------------------- names


def test_long_site_and_class_names_are_shortened_deterministically(hostile, tmp_path):
    path, cap = hostile
    long_classes = "0=" + "c" * 300 + ",1=" + "c" * 299 + "d"
    out = tmp_path / "figs"
    done = cli("export", path, "--out", out, "--raw", "--quiet", "--class-names", long_classes)
    assert done.returncode == 0, done.stderr.decode()
    names = sorted(p.name for p in out.iterdir())
    assert all(len(n.encode()) <= MAX_NAME_BYTES for n in names), max(names, key=len)
    assert len({fold(n) for n in names}) == len(names)
    no_temporaries(out)
    # the two long sites share 299 bytes: each keeps a readable prefix and its own hash
    raw = {i: [n for n in names if n.startswith(f"attn_raw_layer_{i}_encoder_aaaa")] for i in (0, 1)}
    assert len(raw[0]) == 1 and len(raw[1]) == 1 and raw[0] != raw[1]
    assert "~" in raw[0][0] and "~" in raw[1][0]
    assert np.array_equal(np.load(out / raw[0][0]), cap.get(LONG_A))
    assert np.array_equal(np.load(out / raw[1][0]), cap.get(LONG_B))
    # both long class names stay apart too, in seed 000's per-class files of the tapped sites
    per_class = [n for n in names if n.startswith("layer_weight_heatmap_cccc")]
    assert len(per_class) == 4  # two classes x the sites Gate and gate
    # the same names in every run: a second export writes exactly these
    again = tmp_path / "again"
    assert (
        cli("export", path, "--out", again, "--raw", "--quiet", "--class-names", long_classes).returncode == 0
    )
    assert sorted(p.name for p in again.iterdir()) == names


def test_names_equal_but_for_case_or_normalisation_get_apart(hostile, audio_run, tmp_path):  # noqa: F811
    path, cap = hostile
    out = tmp_path / "case"
    # classes "Spoof" and "spoof", and the tapped sites "Gate" and "gate": one file each on macOS
    sites = ["--layer", "Gate", "--layer", "gate", "--layer", "Attn", "--layer", "attn"]
    done = cli("export", path, "--out", out, "--quiet", "--class-names", "0=Spoof,1=spoof", *sites)
    assert done.returncode == 0, done.stderr.decode()
    names = [p.name for p in out.iterdir()]
    assert len({fold(n) for n in names}) == len(names), sorted(names)
    planned = [
        j.filename
        for j in plan_gallery(
            cap, class_names={0: "Spoof", 1: "spoof"}, layers=["Gate", "gate", "Attn", "attn"]
        )
    ]
    assert sorted(planned) == sorted(names)
    gate = [n for n in names if n.startswith("layer_weight_heatmap_")]
    assert len(gate) == 4  # Spoof/spoof x Gate/gate: four files, none overwrote another
    assert len([n for n in names if n.startswith("heatmap_layer_")]) == 2  # Attn and attn

    # "é" written composed and decomposed: one name on macOS once normalised
    nfc = tmp_path / "nfc"
    done = cli(
        "export",
        audio_run,
        "--out",
        nfc,
        "--quiet",
        "--layer",
        "layer_weights",
        "--class-names",
        "0=\u00e9,1=e\u0301",
    )
    assert done.returncode == 0, done.stderr.decode()
    names = [p.name for p in nfc.iterdir()]
    assert len(names) == 3 and len({fold(n) for n in names}) == 3, names
    assert all(unicodedata.is_normalized("NFC", n) for n in names)


# ---------------------------------------------------------------- folders


def test_out_is_a_file_or_inside_one(audio_run, tmp_path):  # noqa: F811
    file = tmp_path / "figs"
    file.write_bytes(b"mine")
    failed(cli("export", audio_run, "--out", file, "--quiet"), "is a file, not a folder")
    failed(cli("export", audio_run, "--out", file / "sub", "--quiet"), "cannot be created", "is a file")
    assert file.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figs"]


def _read_only(tmp_path: pathlib.Path) -> tuple[pathlib.Path, list[str], str]:
    """A read-only folder, the prefix that runs a command where it is read-only, and its error text."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return folder, [], "Permission denied"
    if can_unshare():  # root writes through chmod: make the folder a read-only mount instead
        script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
        return folder, in_namespace(script, folder), "Read-only file system"
    return pathlib.Path("/sys"), [], ""  # sysfs refuses new files and folders, to root as well


@pytest.mark.parametrize("where", ["folder itself", "inside it"])
def test_read_only_out_fails_cleanly(audio_run, tmp_path, where):  # noqa: F811
    folder, prefix, reason = _read_only(tmp_path)
    out = folder if where == "folder itself" else folder / "attnwidget-figs"
    before = sorted(os.listdir(folder))
    line = failed(
        cli("export", audio_run, "--out", out, "--quiet", "--layer", "layer_weights", prefix=prefix), reason
    )
    assert "choose" in line
    assert sorted(os.listdir(folder)) == before  # no file, no temporary, no empty folder
    if os.geteuid() != 0:
        folder.chmod(0o755)  # so that pytest can remove it


def _check_partial(out: pathlib.Path, ref: dict[str, pathlib.Path]) -> list[str]:
    """Every file left in ``out`` is whole (the same as the unconstrained export's); their names."""
    no_temporaries(out)
    names = sorted(p.name for p in out.iterdir())
    assert set(names) <= set(ref), set(names) - set(ref)
    for n in names:
        assert same_content(out / n, ref[n]), f"{n} is torn"
    return names


def test_full_disk_tmpfs_leaves_whole_files(hostile, tmp_path):
    if not can_unshare():
        pytest.skip("no private mount namespace here for a tiny tmpfs; the RLIMIT_FSIZE test covers this")
    path, _ = hostile
    ref = reference(path, tmp_path / "ref", "--raw")
    pages = sum(-(-p.stat().st_size // 4096) for p in ref.values())
    disk, copy = tmp_path / "disk", tmp_path / "copy"
    disk.mkdir()
    copy.mkdir()
    # half of what the export needs; what was written is copied out before the namespace ends
    script = (
        f'mount -t tmpfs -o size={pages // 2 * 4096} tmpfs "$0" || exit 99; "$@"; rc=$?; '
        f'cp -a "$0/." "{copy}/"; exit $rc'
    )
    done = cli("export", path, "--out", disk / "figs", "--raw", "--quiet", prefix=in_namespace(script, disk))
    failed(done, "No space left on device", "free some space", "written whole before it")
    names = _check_partial(copy / "figs", ref)
    assert 0 < len(names) < len(ref)


def test_file_size_limit_leaves_whole_files(hostile, tmp_path):
    path, _ = hostile
    ref = reference(path, tmp_path / "ref", "--raw")
    biggest = max(p.stat().st_size for p in ref.values())
    limit = biggest // 2

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    out = tmp_path / "figs"
    done = cli("export", path, "--out", out, "--raw", "--quiet", preexec_fn=small_files)
    failed(done, "File too large", "free some space")
    names = _check_partial(out, ref) if out.exists() else []
    assert max(ref, key=lambda n: ref[n].stat().st_size) not in names


def test_stale_temporaries_of_a_killed_export_are_removed(audio_run, tmp_path):  # noqa: F811
    from attnwidget import _files

    out = tmp_path / "figs"
    out.mkdir()
    host = _files._host_tag()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    prefix = _files.temporary_prefix(str(out / "heatmap_layer0.png"))
    stale = out / f"{prefix}{dead.pid}-{host}-0123abcd.png"  # its writer is gone: removed
    alive = out / f"{prefix}1-{host}-fedc9876.png"  # pid 1 is alive: a writer at work, kept
    other_host = out / f"{prefix}{dead.pid}-deadbeef-00aa00aa.png"  # another machine's (NFS): kept
    user = out / ".notes.png"  # not a temporary at all
    for p in (stale, alive, other_host, user):
        p.write_bytes(b"\x89PNG torn")
    done = cli("export", audio_run, "--out", out, "--quiet", "--layer", "layer_weights")
    assert done.returncode == 0, done.stderr.decode()
    assert not stale.exists() and alive.exists() and other_host.exists() and user.exists()


# ---------------------------------------------------------------- overwriting


def test_existing_files_are_refused_unless_forced(audio_run, tmp_path):  # noqa: F811
    out = tmp_path / "figs"
    args = ("export", audio_run, "--out", out, "--quiet", "--class-names", "0=spoof,1=bonafide")
    assert cli(*args).returncode == 0
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    assert len(before) > 5
    line = failed(cli(*args), f"{len(before)} file(s) of this export already exist", "--force", "in all")
    assert line.count(".png") == 5  # the first few, not all of them
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before
    for flag in ("--force", "--overwrite"):
        done = cli(*args, flag)
        assert done.returncode == 0, done.stderr.decode()
    assert sorted(p.name for p in out.iterdir()) == sorted(before)
    no_temporaries(out)


def test_a_symlink_in_out_is_never_written_through(audio_run, tmp_path):  # noqa: F811
    out, outside = tmp_path / "figs", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_bytes(b"precious")
    (out / "layer_weight_heatmap_spoof.png").symlink_to(victim)
    (out / "layer_weight_comparison.png").symlink_to(outside / "created.png")  # dangling
    args = (
        "export",
        audio_run,
        "--out",
        out,
        "--quiet",
        "--layer",
        "layer_weights",
        "--class-names",
        "0=spoof,1=bonafide",
    )
    failed(cli(*args), "already exist", "layer_weight_heatmap_spoof.png")
    assert sorted(p.name for p in out.iterdir()) == [
        "layer_weight_comparison.png",
        "layer_weight_heatmap_spoof.png",
    ]
    done = cli(*args, "--force")
    assert done.returncode == 0, done.stderr.decode()
    assert victim.read_bytes() == b"precious" and sorted(os.listdir(outside)) == ["victim.txt"]
    for name in ("layer_weight_heatmap_spoof.png", "layer_weight_comparison.png"):
        p = out / name
        assert not p.is_symlink() and p.read_bytes()[:4] == b"\x89PNG"  # the link itself was replaced


@pytest.mark.parametrize("how", ["same path", "hard link", "symlink"])
def test_raw_never_overwrites_its_own_input(audio_run, tmp_path, how):  # noqa: F811
    out = tmp_path / "out"
    out.mkdir()
    if how == "same path":
        source = out / "capture.npz"
        shutil.copy(audio_run, source)
    else:
        source = tmp_path / "run.npz"
        shutil.copy(audio_run, source)
        link = out / "capture.npz"
        os.link(source, link) if how == "hard link" else link.symlink_to(source)
    data = source.read_bytes()
    for force in ([], ["--force"]):
        failed(
            cli("export", source, "--out", out, "--raw", "--quiet", "--layer", "layer_weights", *force),
            "its own input",
        )
        assert source.read_bytes() == data
        assert os.listdir(out) == ["capture.npz"]  # and nothing else was written


# ---------------------------------------------------------------- resolution


def test_huge_dpi_is_refused_before_drawing(audio_run, tmp_path):  # noqa: F811
    out = tmp_path / "figs"
    start = time.monotonic()
    failed(
        cli("export", audio_run, "--out", out, "--dpi", "100000"), "--dpi 100000 is above the limit of 1200"
    )
    assert time.monotonic() - start < 120 and not out.exists()


def test_save_figure_refuses_a_figure_of_too_many_pixels(tmp_path):
    from attnwidget.figures._draw import MAX_PIXELS, new_figure, save_figure

    fig = new_figure(30, 30)  # a head grid of 100 heads is this size; at 1200 dpi, 1,296 megapixels
    fig.add_subplot().imshow(np.eye(4))
    start = time.monotonic()
    with pytest.raises(ValueError, match=r"1,296 megapixels, above the limit of 300; use dpi 577 or less"):
        save_figure(fig, tmp_path / "big.png", dpi=1200)
    assert time.monotonic() - start < 5 and not (tmp_path / "big.png").exists()
    assert (30 * 577) ** 2 <= MAX_PIXELS
    save_figure(fig, tmp_path / "ok.png", dpi=20)
    assert (tmp_path / "ok.png").read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------- terminal


def _controls(text: str) -> list[str]:
    return [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]


def test_info_escapes_control_characters(hostile):
    path, _ = hostile
    done = cli("info", path)
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode("utf-8")
    assert not _controls(out), _controls(out)
    assert "x\\x1b[2J\\x0d\\x07\\x9b31m\\u202ey" in out  # the site name, readable
    assert "\\x1b]0;pwned\\x07" in out and "\\u202eevil" in out  # tokens
    assert "note\\x1b[31m" in out  # a metadata key
    assert "Spoof\\x1b[5m" in out  # a class name from the file's metadata
    assert "7 site(s)" in out


def test_error_lines_escape_control_characters_too(hostile, tmp_path):
    path, _ = hostile
    # the class listing quotes the file's class names ("Spoof\x1b[5m")
    line = failed(
        cli("export", path, "--out", tmp_path / "o", "--quiet", "--class", "nope"),
        "unknown class 'nope'",
        "Spoof\\x1b[5m",
    )
    assert not _controls(line)

"""EEG sleep-staging dashboard: epochs, channels, time in one figure.

A sequence model such as MESA attends at three levels: time steps within
one channel of one epoch ("temporal"), channels within an epoch
("channel"), and epochs within the sequence ("epoch"). The per-epoch and
per-channel sites run on flattened batches, so their sample axis is
``recording x epoch`` (channel site) and ``recording x epoch x channel``
(temporal site); this module finds the right sample index from the sizes.
Every panel is a frame from :func:`attnwidget.frame`.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from .._frame import Frame, frame
from ..figures._draw import check_style, class_name, colorbar, draw_frame, new_figure, text_label
from ..figures.fonts import label_fonts
from ..store import Capture

__all__ = ["eeg_dashboard"]


def _samples(cap: Capture, name: str, step: int) -> int:
    return int(cap.get(name, step).shape[0])


def _epoch_labels(n: int, truth, pred, class_names) -> list[str] | None:
    if truth is None and pred is None:
        return None
    out = []
    for i in range(n):
        t = class_name(truth[i], class_names) if truth is not None else "?"
        if pred is not None:
            out.append(f"{i}: {t}→{class_name(pred[i], class_names)}")
        else:
            out.append(f"{i}: {t}")
    return out


def eeg_dashboard(cap: Capture, epoch_layer: int | str, channel_layer: int | str | None = None,
                  temporal_layer: int | str | None = None, *, sample: int = 0,
                  epochs: Sequence[int] | None = None, channel_names: Sequence[str] | None = None,
                  epoch_labels: Sequence | None = None, epoch_predictions: Sequence | None = None,
                  class_names: dict | None = None, head: int | str = "mean", step: int = 0,
                  max_channels: int = 3, colormap: str = "viridis") -> Figure:  # fmt: skip
    """Inter-epoch attention on top; channel and temporal attention of chosen epochs below.

    Parameters
    ----------
    cap : Capture
    epoch_layer : int or str
        Site attending between epochs of a sequence (``[recording, head, epoch, epoch]``).
    channel_layer : int or str, optional
        Site attending between channels within an epoch; its sample axis is
        ``recording x epoch``.
    temporal_layer : int or str, optional
        Site attending between time steps within one channel of one epoch;
        its sample axis is ``recording x epoch x channel`` (or ``recording x epoch``).
    sample : int
        The recording.
    epochs : sequence of int, optional
        Epochs to detail (default: first, middle and last).
    channel_names : sequence of str, optional
        E.g. ``["EEG1", "EEG2", "EEG3"]``.
    epoch_labels, epoch_predictions : sequence, optional
        True and predicted stage per epoch, shown as "true→predicted" labels.
    class_names : dict, optional
        Stage label -> name.
    head, step : as :func:`attnwidget.frame`.
    max_channels : int
        Most temporal panels per epoch.
    colormap : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    check_style(colormap, "linear")
    ename = cap.site_name(epoch_layer)
    top = frame(cap, ename, head=head, sample=sample, step=step)
    n_ep = top.shape[0]
    names = _epoch_labels(n_ep, epoch_labels, epoch_predictions, class_names)
    if names is not None:
        top = Frame(**{**top.__dict__, "row_labels": names, "col_labels": [str(i) for i in range(n_ep)]})
    if epochs is None:
        epochs = sorted({0, n_ep // 2, n_ep - 1})
    for e in epochs:
        if not 0 <= e < n_ep:
            raise IndexError(f"epoch {e} is out of range: the sequence has {n_ep} epochs")

    rec = _samples(cap, ename, step)
    rows: list[list[tuple[Frame, str]]] = []
    for e in epochs:
        row = []
        if channel_layer is not None:
            cname = cap.site_name(channel_layer)
            per = _samples(cap, cname, step) // rec
            if per != n_ep:
                raise ValueError(
                    f"channel site {cname!r} holds {per * rec} samples; expected "
                    f"recordings x epochs = {rec} x {n_ep}"
                )
            fr = frame(
                cap,
                cname,
                head=head,
                sample=sample * n_ep + e,
                step=step,
                tokens=list(channel_names) if channel_names else None,
            )
            row.append((fr, f"epoch {e} · channels"))
        if temporal_layer is not None:
            tname = cap.site_name(temporal_layer)
            per = _samples(cap, tname, step) // (rec * n_ep)
            chans = range(min(per, max_channels)) if per > 1 else [None]
            for c in chans:
                idx = (sample * n_ep + e) * per + (c or 0)
                fr = frame(cap, tname, head=head, sample=idx, step=step)
                who = (
                    ""
                    if c is None
                    else f" · {channel_names[c] if channel_names and c < len(channel_names) else f'channel {c}'}"
                )
                row.append((fr, f"epoch {e}{who} · time"))
        rows.append(row)

    ncols = max([len(r) for r in rows] + [1])
    fig = new_figure(3.8 * ncols + 1.0, 4.2 + 3.2 * len(rows))
    gs = fig.add_gridspec(1 + len(rows), ncols, height_ratios=[1.5] + [1.0] * len(rows))
    ax = fig.add_subplot(gs[0, :])
    _, lo, hi = draw_frame(ax, top, colormap=colormap, title=f"inter-epoch attention · {top.title}")
    ax.set_xlabel("key epoch")
    ax.set_ylabel("query epoch")
    colorbar(fig, ax, lo, hi, colormap=colormap)
    for r, row in enumerate(rows):
        for c, (fr, title) in enumerate(row):
            ax = fig.add_subplot(gs[1 + r, c])
            _, lo, hi = draw_frame(ax, fr, colormap=colormap, title=title, max_ticks=12)
            colorbar(fig, ax, lo, hi, colormap=colormap)
    fig.suptitle(text_label(f"EEG attention dashboard · recording {sample}"), fontfamily=label_fonts())
    return fig

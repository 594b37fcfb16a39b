"""``save()`` for every view and the explorer: one figure function, whatever the widget."""

from __future__ import annotations


class Savable:
    """Mixin giving a widget ``save(path, dpi)`` through :func:`attnwidget.figures.save_view`."""

    def save(self, path, dpi: int = 150):
        """Save what this widget shows as an image file.

        Parameters
        ----------
        path : str or os.PathLike
            Output file; the format follows the extension (``.png``, ``.pdf``, ``.svg``).
        dpi : int
            Resolution of raster formats.
        """
        from ..figures import save_view  # lazy: matplotlib only when saving

        return save_view(self, path, dpi=dpi)

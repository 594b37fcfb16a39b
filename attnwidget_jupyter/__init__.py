"""attnwidget's Jupyter server extension: kernel messages leave the server at once.

Jupyter server writes each kernel message to the page's WebSocket with Nagle's
algorithm on (tornado's default; jupyter_server never turns it off). A small
message written while an earlier one is unacknowledged waits for the page's
delayed acknowledgement: about 40 ms on Linux. Every widget change crosses that
wait, so the explorer's changes made in Python, and those the page does not hold,
took 40 ms more than the kernel and the page need. This extension sets
``TCP_NODELAY`` on each kernel WebSocket as it opens, which is what tornado's
documentation advises for interactive use.

It is enabled on install (``jupyter-config/jupyter_server_config.d/attnwidget.json``)
and imports neither torch nor attnwidget: the server stays as light as it was.
``jupyter server extension disable attnwidget_jupyter`` turns it off.
Measured by ``benchmarks/browser.py`` (the round trips); checked by
``tests/browser/test_server_nodelay.py`` (loaded by a real server, the option set on the socket).
"""

from __future__ import annotations

import socket

__all__ = ["nodelay_connection"]


def _jupyter_server_extension_points():
    return [{"module": "attnwidget_jupyter"}]


def nodelay_connection(base: type) -> type:
    """``base`` (a kernel WebSocket connection class) with ``TCP_NODELAY`` set as it connects."""
    if getattr(base, "_attnwidget_nodelay", False):
        return base

    class NoDelayConnection(base):  # type: ignore[misc, valid-type]
        _attnwidget_nodelay = True

        def connect(self, *args, **kwargs):
            try:
                handler = self.websocket_handler
                handler.set_nodelay(True)
                sock = handler.ws_connection.stream.socket
                on = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                self.log.debug(
                    "attnwidget_jupyter: TCP_NODELAY=%d on a WebSocket of kernel %s", on, self.kernel_id
                )
            except Exception as e:  # a handler without a stream yet, or of another kind: as before
                self.log.debug("attnwidget_jupyter: TCP_NODELAY not set on a kernel WebSocket: %s", e)
            return super().connect(*args, **kwargs)

    NoDelayConnection.__name__ = NoDelayConnection.__qualname__ = f"NoDelay{base.__name__}"
    NoDelayConnection.__module__ = __name__
    return NoDelayConnection


def _load_jupyter_server_extension(serverapp) -> None:
    # the class the server would use (another extension's or the user's, or the default), wrapped
    settings = serverapp.web_app.settings
    base = settings.get("kernel_websocket_connection_class") or serverapp.kernel_websocket_connection_class
    settings["kernel_websocket_connection_class"] = nodelay_connection(base)
    serverapp.log.info("attnwidget_jupyter: kernel WebSockets send without Nagle's delay")

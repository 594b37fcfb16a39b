"""attnwidget_jupyter: installed with the package, loaded by a real Jupyter server, and each
kernel WebSocket it serves sends without Nagle's delay (TCP_NODELAY read back from the socket).

The delay itself (about 40 ms for a small kernel message, 2-3 ms without it) is measured in
``benchmarks/browser.py``, not here: timings do not belong in tests.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import pytest

tornado_websocket = pytest.importorskip("tornado.websocket", reason="needs tornado (jupyter_server's)")
from aw_browser import free_port  # noqa: E402


def test_extension_is_enabled_by_the_install():
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = out.stdout + out.stderr
    assert "attnwidget_jupyter" in text and "enabled" in text.split("attnwidget_jupyter", 1)[1][:40], text
    # the server stays light: the extension imports neither torch nor attnwidget
    probe = "import sys, attnwidget_jupyter; print('torch' in sys.modules, 'attnwidget' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.split() == [
        "False",
        "False",
    ]


def test_kernel_websocket_has_tcp_nodelay(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    cmd = [
        sys.executable, "-m", "jupyter", "server", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
        "--ServerApp.log_level=DEBUG",
        f"--ServerApp.root_dir={tmp_path}", "--allow-root",
    ]  # fmt: skip
    with open(log, "w") as f:
        server = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(360):
            try:
                urllib.request.urlopen(url + "/api/status", timeout=2)
                break
            except OSError:
                time.sleep(0.25)
        req = urllib.request.Request(url + "/api/kernels", data=b"{}", method="POST")
        kernel = json.loads(urllib.request.urlopen(req, timeout=60).read())["id"]

        async def connect():
            ws = await tornado_websocket.websocket_connect(
                f"ws://127.0.0.1:{port}/api/kernels/{kernel}/channels?session_id={uuid.uuid4()}"
            )
            await asyncio.sleep(1.0)  # the server's connect() runs as the socket opens
            ws.close()

        # in a thread of its own: the test process may already run an event loop (Playwright's)
        client = threading.Thread(target=asyncio.run, args=(connect(),))
        client.start()
        client.join(timeout=60)
        deadline = time.time() + 30
        while (
            time.time() < deadline
            and f"TCP_NODELAY=1 on a WebSocket of kernel {kernel}" not in log.read_text()
        ):
            time.sleep(0.2)
        text = log.read_text()
        assert "attnwidget_jupyter: kernel WebSockets send without Nagle's delay" in text, text[-3000:]
        assert f"TCP_NODELAY=1 on a WebSocket of kernel {kernel}" in text, text[-3000:]
    finally:
        server.terminate()
        server.wait(timeout=30)

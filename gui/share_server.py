"""A read-only web page of what the lecturer shows, served to the room (no Qt in this module).

`ShareServer` runs aiohttp on its own thread and event loop. The window publishes a picture of
the shown tab a few times a second (`publish`, from any thread); each browser holds one
server-sent-event stream and receives the newest picture whenever it changes, as a data URL, so
a slow phone skips pictures instead of falling behind.

What it guards:
- read-only: only GET of the page and the stream; no endpoint takes input that reaches the run;
- every path starts with a random token (`/<token>/`); anything else is 403, unknown paths 404;
- no file system: the page is a string in this module, pictures live in memory;
- a cap on clients (further streams get 503) and on bytes per second per client (pictures are
  skipped, never queued, when a client is over its share);
- `stop()` closes every connection and the listening socket within a second.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass

from engine.priority import lower_thread_priority

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Saddle Lab — live</title>
<style>
 html,body{margin:0;background:#111;color:#eee;font:16px/1.4 system-ui,sans-serif}
 header{display:flex;gap:.8em;align-items:baseline;padding:.5em .8em;flex-wrap:wrap}
 h1{font-size:1.15em;margin:0} #meta{color:#aaa;font-size:.95em}
 #state{margin-left:auto;font-size:.9em;padding:.1em .5em;border-radius:1em;background:#444}
 #state.live{background:#1b7f3b}
 main{padding:0 .4em .6em} img{display:block;width:100%;height:auto;background:#fff;border-radius:4px}
 p.note{color:#aaa;padding:0 .8em;font-size:.9em}
</style></head>
<body><header><h1 id="title">Saddle Lab</h1><span id="meta"></span><span id="state">connecting…</span></header>
<main><img id="figure" alt="the lecturer's current plot"></main>
<p class="note">A read-only view of the lecture's run: it follows the tab the lecturer shows.</p>
<script>
"use strict";
const img = document.getElementById("figure"), state = document.getElementById("state");
let shown = 0;
function connect() {
  const es = new EventSource("events");
  es.onopen = () => { state.textContent = "live"; state.className = "live"; };
  es.onmessage = (e) => {
    const m = JSON.parse(e.data);
    img.src = m.image; shown = m.id;
    img.dataset.frame = String(m.id);
    document.getElementById("title").textContent = m.title;
    document.getElementById("meta").textContent = m.caption;
  };
  es.onerror = () => { state.textContent = "reconnecting…"; state.className = ""; };
}
connect();
</script></body></html>
"""


@dataclass(frozen=True)
class Picture:
    """One published picture of the shown tab, with its event already encoded once for all."""

    id: int
    message: bytes  # the server-sent event: JSON with the picture as a data URL
    time: float  # time.monotonic() when published

    @classmethod
    def make(cls, id: int, image: bytes, mime: str, title: str, caption: str) -> Picture:
        data = {"id": id, "title": title, "caption": caption,
                "image": f"data:{mime};base64," + base64.b64encode(image).decode("ascii")}
        return cls(id, b"data: " + json.dumps(data).encode("utf-8") + b"\n\n", time.monotonic())


@dataclass
class ShareLimits:
    max_clients: int = 200
    bytes_per_second: int = 1_500_000  # per client; pictures are skipped above it
    keepalive_s: float = 10.0


class ShareServer:
    """The room's read-only page; start, publish, stop from any thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, token: str | None = None,
                 limits: ShareLimits | None = None):
        self.host = host
        self.port = port
        self.token = token or secrets.token_urlsafe(16)
        self.limits = limits or ShareLimits()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner = None
        self._latest: Picture | None = None
        self._changed: asyncio.Condition | None = None
        self._closing: asyncio.Event | None = None
        self._clients: set = set()
        self._next_id = 0
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.bytes_sent = 0
        self.rejected = 0

    # -- life -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/{self.token}/"

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def start(self, timeout: float = 10.0) -> str:
        """Bind and serve; returns the page's address. Raises OSError if the address is taken."""
        if self.running:
            return self.url
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._serve, name="share-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise OSError("the sharing server did not start in time")
        if self._error is not None:
            self._thread.join(1.0)
            self._thread = None
            raise OSError(f"cannot share on {self.host}:{self.port}: {self._error}") from self._error
        return self.url

    def stop(self, timeout: float = 1.0) -> None:
        """Close every connection and the listening socket (within `timeout` seconds)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            loop.call_soon_threadsafe(self._closing.set)
        except RuntimeError:  # the loop has already ended
            pass
        thread.join(timeout)
        self._thread = None

    # -- publishing -----------------------------------------------------------------------
    def publish(self, image: bytes, mime: str = "image/jpeg", title: str = "", caption: str = "") -> None:
        """Offer the newest picture to every client (thread-safe; older ones are dropped)."""
        loop = self._loop
        if loop is None or not self.running:
            return
        self._next_id += 1
        pic = Picture.make(self._next_id, bytes(image), mime, title, caption)
        try:
            loop.call_soon_threadsafe(lambda: loop.create_task(self._set_latest(pic)))
        except RuntimeError:
            pass

    async def _set_latest(self, pic: Picture) -> None:
        self._latest = pic
        async with self._changed:
            self._changed.notify_all()

    # -- the server -----------------------------------------------------------------------
    def _serve(self) -> None:
        lower_thread_priority()  # the lecturer's window first; viewers may wait a frame
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._error = exc
            self._ready.set()
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self._loop = None

    async def _main(self) -> None:
        from aiohttp import web

        self._changed = asyncio.Condition()
        self._closing = asyncio.Event()
        app = web.Application(middlewares=[self._guard])
        base = f"/{self.token}/"
        app.router.add_get(base, self._page)
        app.router.add_get(base + "events", self._events)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        self._runner = runner
        sockets = site._server.sockets if site._server is not None else []  # noqa: SLF001
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._ready.set()
        await self._closing.wait()
        async with self._changed:
            self._changed.notify_all()  # streams see the closing flag and end
        for resp in list(self._clients):
            transport = getattr(getattr(resp, "_req", None), "transport", None)
            if transport is not None:
                transport.close()
        await runner.cleanup()

    # -- handlers -------------------------------------------------------------------------
    @property
    def _guard(self):
        from aiohttp import web

        token_prefix = f"/{self.token}/"

        @web.middleware
        async def guard(request, handler):
            if request.method not in ("GET", "HEAD"):
                return web.Response(status=405, text="read-only", headers={"Allow": "GET"})
            path = request.path
            if not (path == token_prefix[:-1] or path.startswith(token_prefix)):
                return web.Response(status=403, text="forbidden: this address needs the token the lecturer shows")
            if path == token_prefix[:-1]:
                raise web.HTTPFound(token_prefix)
            return await handler(request)

        return guard

    async def _page(self, request):
        from aiohttp import web

        return web.Response(text=PAGE, content_type="text/html",
                            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                     "Content-Security-Policy": "default-src 'none'; img-src data:; "
                                     "style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'"})

    async def _events(self, request):
        from aiohttp import web

        if len(self._clients) >= self.limits.max_clients:
            self.rejected += 1
            return web.Response(status=503, text="too many viewers", headers={"Retry-After": "10"})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
        resp._req = request  # noqa: SLF001 - to close its transport on stop
        self._clients.add(resp)
        try:
            await resp.prepare(request)
            await resp.write(b"retry: 1000\n\n")
            sent_id = 0
            window_start, window_bytes = time.monotonic(), 0
            while not self._closing.is_set():
                pic = self._latest
                if pic is None or pic.id == sent_id:
                    async with self._changed:
                        try:
                            await asyncio.wait_for(self._changed.wait(), self.limits.keepalive_s)
                        except TimeoutError:
                            await resp.write(b": keep-alive\n\n")
                    continue
                now = time.monotonic()
                if now - window_start >= 1.0:
                    window_start, window_bytes = now, 0
                msg = pic.message
                if window_bytes + len(msg) > self.limits.bytes_per_second and window_bytes > 0:
                    # Over this client's share: wait out the second, then send the newest.
                    await asyncio.sleep(max(0.0, 1.0 - (now - window_start)))
                    continue
                await resp.write(msg)
                window_bytes += len(msg)
                self.bytes_sent += len(msg)
                sent_id = pic.id
        except (ConnectionResetError, asyncio.CancelledError, RuntimeError):
            pass
        finally:
            self._clients.discard(resp)
        return resp

"""Share with the room: a read-only page that follows the lecturer's tab, guarded by a token."""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest

from gui.share_server import ShareLimits, ShareServer


def request(server: ShareServer, path: str, method: str = "GET") -> tuple[int, bytes]:
    c = http.client.HTTPConnection(server.host, server.port, timeout=5)
    c.request(method, path)
    r = c.getresponse()
    return r.status, r.read()


class EventReader(threading.Thread):
    """One viewer: reads the event stream, noting when each picture arrived."""

    def __init__(self, server: ShareServer):
        super().__init__(daemon=True)
        self.conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        self.conn.request("GET", f"/{server.token}/events")
        self.response = self.conn.getresponse()
        self.received: list[tuple[float, dict]] = []
        self.closed_at: float | None = None

    def run(self) -> None:
        try:
            while True:
                line = self.response.fp.readline()
                if not line:
                    break
                if line.startswith(b"data: "):
                    self.received.append((time.monotonic(), json.loads(line[6:])))
        except OSError:
            pass
        self.closed_at = time.monotonic()


@pytest.fixture
def server():
    s = ShareServer(limits=ShareLimits(max_clients=3, bytes_per_second=50_000))
    s.start()
    yield s
    s.stop()


def test_only_the_token_path_is_served_and_nothing_takes_input(server):
    t = server.token
    status, body = request(server, f"/{t}/")
    assert status == 200 and b"EventSource" in body
    assert request(server, "/")[0] == 403
    assert request(server, f"/{t[:-1]}/")[0] == 403
    assert request(server, "/" + "x" * 22 + "/events")[0] == 403
    assert request(server, f"/{t}/../../etc/passwd")[0] in (403, 404)
    assert request(server, f"/{t}/recording.json")[0] == 404
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert request(server, f"/{t}/events", method)[0] == 405


def test_viewers_get_the_newest_picture_within_the_caps_and_stop_closes_them(server):
    readers = [EventReader(server) for _ in range(3)]
    for r in readers:
        r.start()
    assert request(server, f"/{server.token}/events")[0] == 503  # the fourth viewer is over the cap
    sent = {}
    for i in range(12):
        server.publish(b"\xff\xd8" + bytes(4000), title="Train", caption=f"step {i}")
        sent[i + 1] = time.monotonic()
        time.sleep(0.1)
    time.sleep(0.3)
    for r in readers:
        ids = [m["id"] for _, m in r.received]
        assert ids and ids == sorted(ids) and ids[-1] == 12  # newest last, never out of order
        # 12 pictures of ~5.5 kB in 1.2 s against a 50 kB/s share: some skipped, all on time
        assert sum(len(json.dumps(m)) for _, m in r.received) <= 50_000 * 2 + 6000
        assert all(t - sent[m["id"]] < 1.0 for t, m in r.received)
    t0 = time.monotonic()
    server.stop()
    for r in readers:
        r.join(2.0)
        assert r.closed_at is not None and r.closed_at - t0 < 1.0
    assert not server.running


def test_the_window_shares_the_shown_tab_live(window, qtbot):
    window.show_share()
    dialog = window.share_dialog
    dialog.interface.setCurrentIndex(dialog.interface.findData("127.0.0.1"))
    dialog.toggle.click()
    share = window.room_share
    assert share.active and share.url in dialog.address.text()
    assert not dialog.qr.pixmap().isNull()
    viewer = EventReader(share.server)
    viewer.start()
    window.show_panel("train")
    window.lab.play()
    qtbot.wait(3000)
    window.lab.pause()
    got = [m for _, m in viewer.received]
    assert len(got) >= 5, f"{len(got)} pictures in 3 s"
    assert got[-1]["title"] == "Train" and got[-1]["caption"].startswith("step ")
    steps = [int(m["caption"].split()[1]) for m in got if m["caption"]]
    assert steps[-1] > steps[0]  # the page follows the run
    assert got[-1]["image"].startswith("data:image/jpeg;base64,")
    t0 = time.monotonic()
    window.close()
    viewer.join(2.0)
    assert viewer.closed_at is not None and viewer.closed_at - t0 < 1.5

"""View → Share with the room: the shown tab as a live, read-only web page for the audience.

The GUI thread only copies the shown tab's pixels a few times a second, and only while somebody
watches; scaling and encoding to JPEG happen on a worker thread, serving in `ShareServer`'s own
thread. The dialog shows the address as text and as a QR
code, the interface it binds to (chosen by the user) and how many are watching.
"""

from __future__ import annotations

import io
import math
from concurrent.futures import Future, ThreadPoolExecutor

from PySide6 import QtCore, QtGui, QtNetwork, QtWidgets

from engine.priority import lower_thread_priority

from .reveal import reveal_now
from .share_server import ShareLimits, ShareServer

UPDATES_PER_SECOND = 3.0
MAX_WIDTH = 1280  # pixels: sharp on a laptop, light enough for a phone on the hall's Wi-Fi


def local_addresses() -> list[tuple[str, str]]:
    """(label, IPv4 address) of each interface that is up, loopback last."""
    found: list[tuple[str, str]] = []
    loopback: list[tuple[str, str]] = []
    flags = QtNetwork.QNetworkInterface.InterfaceFlag
    for iface in QtNetwork.QNetworkInterface.allInterfaces():
        if not iface.flags() & flags.IsUp:
            continue
        for entry in iface.addressEntries():
            ip = entry.ip()
            if ip.protocol() != QtNetwork.QAbstractSocket.NetworkLayerProtocol.IPv4Protocol:
                continue
            text = ip.toString()
            label = f"{iface.humanReadableName()} — {text}"
            (loopback if ip.isLoopback() else found).append((label, text))
    if not loopback:
        loopback.append(("this computer only — 127.0.0.1", "127.0.0.1"))
    return found + loopback


def qr_pixmap(text: str, size: int = 220) -> QtGui.QPixmap:
    """The address as a QR code (segno), scaled without blurring the modules."""
    import segno

    buf = io.BytesIO()
    qr = segno.make(text, error="m")
    modules = qr.symbol_size(scale=1, border=4)[0]
    qr.save(buf, kind="png", scale=max(1, size // modules), border=4, dark="#000000", light="#ffffff")
    pix = QtGui.QPixmap()
    pix.loadFromData(buf.getvalue(), "PNG")
    return pix


def _encode_jpeg(image: QtGui.QImage, quality: int = 72) -> bytes:
    data = QtCore.QByteArray()
    buf = QtCore.QBuffer(data)
    buf.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "JPEG", quality)
    buf.close()
    return bytes(data.data())


class RoomShare(QtCore.QObject):
    """Serves the window's shown tab; start/stop it, and it publishes while anyone watches."""

    state_changed = QtCore.Signal()

    def __init__(self, window: QtWidgets.QMainWindow, limits: ShareLimits | None = None):
        super().__init__(window)
        self.window = window
        self.limits = limits or ShareLimits()
        self.server: ShareServer | None = None
        self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="share-encode",
                                           initializer=lower_thread_priority)
        self._pending: Future | None = None
        self._timer = QtCore.QTimer(self)
        self._timer.setInterval(int(1000 / UPDATES_PER_SECOND))
        self._timer.timeout.connect(self._tick)
        self.published = 0

    @property
    def active(self) -> bool:
        return self.server is not None and self.server.running

    @property
    def url(self) -> str:
        return self.server.url if self.server is not None else ""

    def start(self, host: str, port: int = 0) -> str:
        """Serve on `host` (an address of one interface); returns the page's address."""
        self.stop()
        server = ShareServer(host=host, port=port, limits=self.limits)
        server.start()  # raises OSError with the reason when it cannot bind
        self.server = server
        self._timer.start()
        self.state_changed.emit()
        return server.url

    def stop(self) -> None:
        self._timer.stop()
        server, self.server = self.server, None
        if server is not None:
            server.stop(timeout=1.0)
            self.state_changed.emit()

    def shutdown(self) -> None:
        self.stop()
        self._encoder.shutdown(wait=False, cancel_futures=True)

    # -- publishing ---------------------------------------------------------------------------
    def _tick(self) -> None:
        server = self.server
        if server is None or not server.running:
            return
        if server.client_count == 0 and server._latest is not None:  # noqa: SLF001 - nobody watching
            return
        if self._pending is not None and not self._pending.done():
            return  # the last picture is still being encoded: skip rather than queue
        widget = self.window.tabs.currentWidget()
        if widget is None or not widget.isVisible():
            return
        image = self._grab(widget)
        title, caption = self._caption(widget)
        self._pending = self._encoder.submit(self._encode_and_publish, server, image, title, caption)

    @staticmethod
    def _grab(widget: QtWidgets.QWidget) -> QtGui.QImage:
        """The pixels of `widget` as last painted. Reading the window's backing store costs a few
        ms; painting the widget again (the fallback, where the platform cannot read its windows,
        e.g. Wayland) can cost a tenth of a second for a busy plot."""
        top = widget.window()
        screen = top.screen()
        corner = widget.mapTo(top, QtCore.QPoint(0, 0))
        if screen is not None:
            pix = screen.grabWindow(top.winId(), corner.x(), corner.y(), widget.width(), widget.height())
            if not pix.isNull() and pix.width() > 1:
                return pix.toImage()
        reveal_now()
        return widget.grab().toImage()

    def _caption(self, widget: QtWidgets.QWidget) -> tuple[str, str]:
        title = getattr(widget, "title", "") or "Start"
        lab = getattr(self.window, "lab", None)
        frame = getattr(lab, "last_frame", None)
        if frame is None or not getattr(widget, "uses_experiment", False):
            return title, ""
        parts = [f"step {frame.step}"]
        ev = frame.events[-1] if frame.events else None
        if ev is not None and math.isfinite(ev.train_loss):
            parts.append(f"train loss {ev.train_loss:.3g}")
        if ev is not None and math.isfinite(ev.test_acc):
            parts.append(f"test accuracy {ev.test_acc:.1%}")
        return title, " · ".join(parts)

    def _encode_and_publish(self, server: ShareServer, image: QtGui.QImage, title: str, caption: str) -> None:
        if image.width() > MAX_WIDTH:
            image = image.scaledToWidth(MAX_WIDTH, QtCore.Qt.TransformationMode.SmoothTransformation)
        data = _encode_jpeg(image)
        server.publish(data, "image/jpeg", title, caption)
        self.published += 1


class ShareDialog(QtWidgets.QDialog):
    """Start/stop sharing, the interface to bind, the address as text and QR code, viewers."""

    def __init__(self, share: RoomShare, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.share = share
        self.setWindowTitle("Share with the room")
        self.setModal(False)
        self.interface = QtWidgets.QComboBox()
        for label, ip in local_addresses():
            self.interface.addItem(label, ip)
        self.interface.setToolTip("The network the audience is on; only this address is served")
        self.toggle = QtWidgets.QPushButton("Start sharing")
        self.toggle.clicked.connect(self._toggle)
        self.address = QtWidgets.QLabel("Not shared. The page is read-only: it shows the tab you show, "
                                        "and nothing on it changes the run.")
        self.address.setWordWrap(True)
        self.address.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        big = self.address.font()
        big.setPointSizeF(big.pointSizeF() * 1.3)
        self.address.setFont(big)
        self.qr = QtWidgets.QLabel()
        self.qr.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.qr.setMinimumSize(240, 240)
        self.viewers = QtWidgets.QLabel("")
        self.problem = QtWidgets.QLabel("")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #c0392b")
        form = QtWidgets.QFormLayout()
        form.addRow("Network", self.interface)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.toggle)
        lay.addWidget(self.problem)
        lay.addWidget(self.address)
        lay.addWidget(self.qr)
        lay.addWidget(self.viewers)
        self._count_timer = QtCore.QTimer(self)
        self._count_timer.setInterval(1000)
        self._count_timer.timeout.connect(self._show_viewers)
        share.state_changed.connect(self._show_state)
        self._show_state()

    def _toggle(self) -> None:
        if self.share.active:
            self.share.stop()
            return
        ip = self.interface.currentData()
        try:
            self.share.start(ip)
            self.problem.setText("")
        except OSError as exc:
            self.problem.setText(str(exc))
        except ImportError as exc:
            self.problem.setText(f"Sharing needs the package {exc.name!r}: pip install aiohttp segno")

    def _show_state(self) -> None:
        on = self.share.active
        self.toggle.setText("Stop sharing" if on else "Start sharing")
        self.interface.setEnabled(not on)
        if on:
            url = self.share.url
            self.address.setText(f"Open on a phone or laptop on the same network:\n{url}")
            self.qr.setPixmap(qr_pixmap(url))
            self._count_timer.start()
            self._show_viewers()
        else:
            self.address.setText("Not shared. The page is read-only: it shows the tab you show, "
                                 "and nothing on it changes the run.")
            self.qr.clear()
            self.viewers.setText("")
            self._count_timer.stop()

    def _show_viewers(self) -> None:
        server = self.share.server
        n = server.client_count if server is not None else 0
        self.viewers.setText(f"{n} watching" if n != 1 else "1 watching")

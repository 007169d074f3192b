"""Starting the app: the QApplication, the window, and the command-line modes."""

from __future__ import annotations

import os
import sys

from PySide6 import QtCore, QtWidgets


def _quiet_offscreen(mode, context, message) -> None:
    # The offscreen platform reports features it lacks; those lines mean nothing to a user.
    if "propagateSizeHints" in message:
        return
    sys.stderr.write(message + "\n")


def make_app(argv: list[str] | None = None, offscreen: bool = False) -> QtWidgets.QApplication:
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        QtCore.qInstallMessageHandler(_quiet_offscreen)
    app = QtWidgets.QApplication.instance()
    if app is None:
        QtCore.QCoreApplication.setOrganizationName("Saddle Lab")
        QtCore.QCoreApplication.setApplicationName("Saddle Lab")
        app = QtWidgets.QApplication(argv if argv is not None else sys.argv[:1])
    from .collector import collect_on_gui_thread
    from .style import manager

    collect_on_gui_thread(app)

    manager().apply_all()
    return app


def run_gui(argv: list[str] | None = None, leave_process: bool = False) -> int:
    """The window, until it is closed. With `leave_process` (the app's own entry point) the process
    ends as soon as the event loop does: the window has saved its settings and stopped every
    worker by then, and what is left, the interpreter tearing down torch, scipy and thousands of
    Qt objects, takes half a second or more on a laptop for nothing a user can see."""
    app = make_app(argv)
    from .main_window import MainWindow

    win = MainWindow(remember=True)
    win.show()
    code = app.exec()
    if leave_process:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code

"""Test setup: Qt offscreen, one window per GUI test, and no worker left running."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def window(qtbot):
    """The real main window, at lecture-hall size, torn down with every job stopped."""
    from gui.app import make_app
    from gui.collector import freeze_long_lived
    from gui.headless import dispose
    from gui.main_window import MainWindow

    # As the app does once started: the modules' objects are exempt from later collections, so
    # each window's teardown collects its own cycles without walking torch's and Qt's.
    freeze_long_lived()
    make_app()
    win = MainWindow()
    win.bar.confirm = lambda text: True  # tests answer "yes" to "restart training?"
    win.resize(1280, 720)
    win.show()
    qtbot.waitUntil(lambda: win.lab.state == "idle" and win.lab.last_frame is not None, timeout=20000)
    yield win
    for p in win.built_panels():
        p.shutdown()
    assert win.lab.stop_all(timeout=5.0), "a worker did not stop"
    leftover = [j.name for j in win.lab._jobs if j.running and not j.stopping]
    dispose(win)
    assert not leftover, f"jobs still running at teardown: {leftover}"


def wait_idle(qtbot, lab, timeout: int = 90000) -> None:
    qtbot.waitUntil(lambda: lab.state == "idle", timeout=timeout)


def headless_chromium(tmp_path, width: int, height: int):
    """A headless Chromium driven by selenium, with Debian's chromium and chromium-driver; the
    test is skipped, with the reason, where they are missing."""
    import shutil

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("needs chromium and chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


@pytest.fixture(autouse=True)
def _collect_cycles():
    """With a Qt app alive, cycles are collected by its GUI timer, which only runs while a test
    waits on Qt: between tests, collect as often as Python itself would."""
    yield
    from gui import collector

    if collector._collector is not None:
        collector._collector.check()

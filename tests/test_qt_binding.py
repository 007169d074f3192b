"""The Qt binding must not leak references to None (PySide6 6.12.0 does, and then aborts a
long lecture with 'deallocating None')."""

import gc
import sys

from PySide6 import QtWidgets


def test_qt_calls_keep_none_alive(qapp):
    label = QtWidgets.QLabel()
    gc.collect()
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("step 1")
        qapp.processEvents()
    gc.collect()
    assert sys.getrefcount(None) >= before - 50

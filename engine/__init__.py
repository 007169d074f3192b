"""Saddle Lab's computational core: data, models, training and the geometry analyses.

Nothing in this package imports Qt; every long computation is a generator that yields
plain dataclasses holding numpy arrays (`progress.Progress` while it works, its own result
types as they land), so the GUI, the headless exporter and the tests consume the same code.
"""

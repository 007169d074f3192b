"""Saddle Lab's computational core: data, models, training and the geometry analyses.

Nothing in this package imports Qt; every long computation is a generator that yields
plain dataclasses holding numpy arrays, so the GUI, the headless exporter and the tests
consume the same code.
"""

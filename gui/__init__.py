"""Saddle Lab's Qt views. Views draw; they never compute (see engine/)."""

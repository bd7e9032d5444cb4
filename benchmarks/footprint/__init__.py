"""Footprint of each deployable part: installed size, import time, process start to ready (see bench.py)."""

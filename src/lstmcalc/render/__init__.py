"""Renderers: each reads a result object from the core and returns text or renderables.

Only table.py imports Rich; the machine formats need nothing beyond the standard library and
NumPy (and PyYAML for --format yaml).
"""

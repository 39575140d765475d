"""Plumbing that knows nothing of hypervisors: atomic files and directories, dotted setting
paths, a process pool, "did you mean".

Modules here import nothing from tmemsim above errors and units.
"""

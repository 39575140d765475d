"""Analysis: what is concluded from runs — closed forms (theory.py), the hit-rate regression
against a baseline (regress.py) and the verification of the simulator (verify/).

Light on purpose: importing tmemsim.analysis loads none of its modules, and none of them loads
matplotlib (figures are tmemsim.presentation's).
"""

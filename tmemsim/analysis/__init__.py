"""Analysis: what is concluded from runs — closed forms (theory.py), the hit-rate regression
against a baseline (regress.py), the verification of the simulator (verify/), and answers
computed from the model's inputs and outputs without running the model once per answer
(hit-ratio curves over pool and memory sizes: `tmemsim.analysis.curves`).

Light on purpose: importing tmemsim.analysis loads none of its modules, and none of them loads
matplotlib (figures are tmemsim.presentation's).
"""

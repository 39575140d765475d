"""Analysis: answers computed from the model's inputs and outputs without running the model
once per answer (hit-ratio curves over pool and memory sizes: `tmemsim.analysis.curves`)."""

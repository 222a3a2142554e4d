"""Figures. Matplotlib's Agg canvas only: no pyplot state, no GUI toolkit in the model's import path.

- :mod:`.figures`: the paper-ready figure set of a run (confusion, raster, features, learning
  curve, weight history), png/pdf/svg;
- :mod:`.features`: feature reconstruction down to the sensor;
- :mod:`.history`: weight histograms over training (bounded observer);
- :mod:`.continual`: accuracy matrices, forgetting curves, ACC/BWT bars of continual-learning runs.
"""

"""Figures beyond a single run's (``stdpnet.plots``): :mod:`stdpnet.viz.continual` for
continual-learning experiments. Every function takes explicit data and an output path and draws
with matplotlib's Agg canvas (no pyplot, no global backend switch)."""

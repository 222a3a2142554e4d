"""Figures: paper-ready run figures (:mod:`.figures`), feature reconstruction (:mod:`.features`),
weight history (:mod:`.history`). Matplotlib's Agg canvas only: no pyplot state, no GUI toolkit."""

"""Figures, grouped by what they show, with one shared style (``style``): the converted data (``data``),
one training run (``training``), the comparison family and the grid's results (``results``), training dynamics
across runs (``dynamics``) and the mixing mechanism (``mechanism``)."""

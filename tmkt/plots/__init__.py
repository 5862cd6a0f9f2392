"""Figures, grouped by what they show, with one shared style (``style``): the converted data (``data``),
one training run (``training``), the ablation results (``results``) and the mixing mechanism
(``mechanism``)."""

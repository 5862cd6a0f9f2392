"""Results (the ``figures`` stage): tables and paired comparisons over seeds (``tables``), the closing
conclusions (``conclusions``), the convergence check (``convergence``), the mixing-mechanism study
(``mechanism``), DVC's curves and effects (``dvc_views``), operations and energy of one inference
(``energy``), finished runs' networks rebuilt (``trained``), the NIR export (``nir_export``) and sim-to-real
transfer (``transfer``)."""

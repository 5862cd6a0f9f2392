"""Results (the ``figures`` stage): tables and paired comparisons over seeds (``tables``), the
convergence check (``convergence``) and the mixing-mechanism study (``mechanism``)."""

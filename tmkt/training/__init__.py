"""Training (the ``train`` and ``ablate`` stages): what each method mixes and which loss terms it
assembles (``methods``), the epoch loop of one run (``loop``), checkpoints and the run's identity
(``checkpoints``), and many runs in parallel processes (``runs``)."""

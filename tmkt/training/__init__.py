"""Training (the ``train`` and ``ablate`` stages): what each method mixes and which loss terms it
assembles (``methods``), the epoch loop of one run (``loop``), the optimiser and learning-rate schedule
(``optim``), where and in which precision a run computes (``device``), checkpoints and the run's identity
(``checkpoints``), many runs in parallel processes (``runs``) and data-parallel runs under torchrun
(``distributed``, ``torchrun``)."""

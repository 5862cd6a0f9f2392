"""The method (docs/method.md): time-step mixup and sample-level replacement (``mixup``), the spiking neuron
(``neurons``, its compiled CPU loops ``lif_kernels``), the networks (``models``) and the loss terms
(``losses``). Pure functions and modules of torch; nothing here reads files or parameters beyond its typed
section."""

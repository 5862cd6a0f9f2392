"""The method (docs/method.md): time-step mixup (``mixup``), the spiking neuron (``neurons``), the
networks (``models``) and the loss terms (``losses``). Pure functions and modules of torch; nothing here
reads files or parameters beyond its typed section."""

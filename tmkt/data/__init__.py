"""Data in (the ``convert`` stage): dataset readers and the simulator (``datasets``), event frames
(``frames``), splits by identity (``splits``), the conversion itself (``convert``), the processed,
memory-mapped arrays that training reads (``processed``), a raw tree's survey before converting (``survey``),
statistics of event recordings (``event_stats``) and the augmentation of training recordings (``augment``)."""

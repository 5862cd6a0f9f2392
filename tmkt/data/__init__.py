"""Data in (the ``convert`` stage): dataset readers and the simulator (``datasets``), event frames
(``frames``), splits by identity (``splits``), the conversion itself (``convert``) and the processed,
memory-mapped arrays that training reads (``processed``)."""

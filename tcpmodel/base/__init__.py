"""The foundation every stage shares: 32-bit sequence arithmetic (``seqnum``), the segment
flags (``flags``), user errors (``errors``), reading input files and naming output files safely
(``files``) and the version."""

"""The foundation every stage shares: 32-bit sequence arithmetic (``seqnum``), the segment
flags (``flags``), user errors (``errors``) and the version."""

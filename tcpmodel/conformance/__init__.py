"""Conformance: the vectors run against real stacks (``stacks``) and judged (``harness``), what
each kind of FAIL means (``findings``), and the reports and matrix (``report``)."""

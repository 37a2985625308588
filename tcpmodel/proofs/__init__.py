"""Everything that touches Z3: the expressions as 32-bit terms (``z3terms``), the proof
obligations (``obligations``), symbolic runs and boundary witnesses (``symbolic``), their
results (``results``) and ``prove``."""

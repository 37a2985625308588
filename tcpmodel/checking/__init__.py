"""Checking a spec: the properties of TCP (``properties``), the packed TCP system for the fast
search (``packed``, ``rows``), the check itself (``check``) and its counterexamples (``counterexample``)."""

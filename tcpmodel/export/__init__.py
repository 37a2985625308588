"""The compiled system as another model checker's input: Promela for Spin (``promela``,
``promelaexpr``, ``promelastep``) and TLA+ for TLC (``tla``), from the facts in ``common``."""

"""Measurements of the Linux kernel's TCP in namespaces of their own: TIME-WAIT and port
exhaustion (``kernel``), and the notes' shorter claims (``notes``)."""

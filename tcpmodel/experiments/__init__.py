"""Measurements of the Linux kernel's TCP in namespaces of their own: TIME-WAIT and port
exhaustion (``kernel``), and the notes' shorter claims (``notes``).

``RECORDED`` is the folder of the recorded runs (``recorded/<name>.json``, package data):
inputs that ``tcpmodel report`` reads, written by ``tcpmodel experiment NAME --record PATH``.
"""

from pathlib import Path

RECORDED = Path(__file__).resolve().parent / "recorded"

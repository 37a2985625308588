"""Conformance vectors generated from the explored system (``generation``), and their
packetdrill scripts (``packetdrill``)."""

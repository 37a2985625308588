"""Traces and captures: the JSON-lines trace format (``trace``), TCP segments in link-layer frames
(``packets``), pcap/pcapng files split into connections (``capture``) and the one pcap writer (``pcap``)."""

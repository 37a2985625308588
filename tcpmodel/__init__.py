"""tcpmodel: a model checker and test oracle for TCP connection management (RFC 9293)."""

__version__ = "0.1.0"

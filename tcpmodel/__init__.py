"""tcpmodel: a model checker and test oracle for TCP connection management (RFC 9293)."""

from tcpmodel.base.version import __version__

__all__ = ["__version__"]

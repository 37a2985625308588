"""This machine: network namespaces the project creates and code run in them (``netns``), the
loopback capture (``loopback``), the kernel's socket table (``socktable``)."""

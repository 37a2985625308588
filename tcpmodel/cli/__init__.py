"""The ``tcpmodel`` command: the only package that prints or exits. ``parser`` defines the
options, ``main`` dispatches to one module per subcommand."""

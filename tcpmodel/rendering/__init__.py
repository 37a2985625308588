"""Pictures and text of results: ladder diagrams (``ladder``, ``auditladder``), the state
diagram (``statediagram``), and the check, proof and audit summaries (``summary``)."""

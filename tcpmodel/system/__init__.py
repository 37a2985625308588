"""The composed system: two endpoints of a spec, the network between them and the environment
(``composed``), under a ``scenario``; what one endpoint of a run observes (``observe``)."""

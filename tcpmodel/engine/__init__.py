"""The search engine, which knows nothing about TCP: breadth-first exploration state by state
(``explore``) or a batch of packed states at a time (``fastexplore``, ``inttable``), and the
graph algorithms of liveness (``graph``)."""

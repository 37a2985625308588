"""The notes' claims, checked: evidence gathered by running tcpmodel (``gather``, ``ledger``,
``witness``), each claim judged (``judging``), the Markdown (``document``), the report (``report``)."""

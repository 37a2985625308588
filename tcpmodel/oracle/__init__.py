"""The oracle: one endpoint's trace judged against the compiled spec (``judge``), under a
``profile``; files audited per connection (``audit``)."""

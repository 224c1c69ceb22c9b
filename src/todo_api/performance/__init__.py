"""Machinery that exists only for speed: nothing in here changes what an answer says.

The fast lane (pure-ASGI handling of the three hottest requests), driver statements (compiled
SQL run on the DB-API cursor), group commit (write units sharing one transaction) and start-up
GC freezing. Each is measured in docs/performance.md; removing any of them changes figures, not
behaviour.
"""

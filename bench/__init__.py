"""Throughput benchmarks for todo-api against reference servers; run them with `make bench`.

`bench.run` is the entry point. The reference apps (`floor_app`, `bare_asgi`, `tutorial_app`)
live here too, so a measurement and the code it compares against change in one commit.
"""

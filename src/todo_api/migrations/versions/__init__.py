"""One module per revision, frozen once released: each imports nothing of the running code."""

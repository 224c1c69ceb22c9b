"""The todo domain's rules, each written once: plain Python, no web framework, no SQL.

Routes, schemas, the repository and the export document all apply these rules by calling
them, so a rule changes in one place.
"""

"""Alembic migrations, shipped inside the package so the installed CLI can migrate.

Only Alembic runs them (todo_api.migrate points it here): no module imports this package.
"""

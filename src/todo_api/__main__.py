"""`python -m todo_api` is the `todo-api` command."""

from todo_api.cli import main

raise SystemExit(main())

"""The framework floor: the least a FastAPI app does to answer the benchmark's requests.

Same server stack as todo-api, no database, no middleware: idiomatic `async def` routes that
return dicts and take a small Pydantic body. What todo-api costs beyond this is our own code.
"""

import itertools
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from bench.sample import PAGE_SIZE, sample_page, sample_todo

app = FastAPI()
_page = sample_page()
_ids = itertools.count(1)


class TodoCreate(BaseModel):
    title: str


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/todos")
async def list_todos(limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    return _page[:limit]


@app.post("/todos", status_code=201)
async def create_todo(todo: TodoCreate) -> dict[str, Any]:
    return sample_todo(next(_ids), todo.title)


@app.get("/todos/{todo_id}")
async def get_todo(todo_id: int) -> dict[str, Any]:
    return sample_todo(todo_id)

"""A typical FastAPI-tutorial todo app, kept as tutorials write it: the baseline to beat.

Plain `def` handlers (each request hops to the thread pool), todos in a module-level list of
Pydantic models, a linear scan to find one, response models validated on the way out. The
benchmark runs it under the same uvicorn flags as every contender, so only the code differs.
Standalone on purpose: `python bench/tutorial_app.py` serves it on 127.0.0.1:8000.
"""

from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI(title="Todo API")


class TodoCreate(BaseModel):
    title: str
    description: str | None = None
    completed: bool = False
    order: float | None = None


class Todo(TodoCreate):
    id: int
    url: str
    completed_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


todos: list[Todo] = []


@app.get("/todos", response_model=list[Todo])
def list_todos(limit: int = 50, offset: int = 0) -> list[Todo]:
    return todos[offset : offset + limit]


@app.post("/todos", response_model=Todo, status_code=201)
def create_todo(todo: TodoCreate) -> Todo:
    now = datetime.now(UTC)
    todo_id = len(todos) + 1
    new_todo = Todo(
        id=todo_id,
        url=f"http://127.0.0.1:8000/todos/{todo_id}",
        created_at=now,
        updated_at=now,
        **todo.model_dump(),
    )
    todos.append(new_todo)
    return new_todo


@app.get("/todos/{todo_id}", response_model=Todo)
def get_todo(todo_id: int) -> Todo:
    for todo in todos:
        if todo.id == todo_id:
            return todo
    raise HTTPException(status_code=404, detail="Todo not found")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000)

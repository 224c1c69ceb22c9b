// Reordering todos by hand (sort "order" only): moving one to a place among those shown and
// giving it an `order` between its neighbours', by drag and drop or by the move buttons and
// Alt+Up/Down (editing.js).

import { el, say, state } from "./page.js";
import { place, write } from "./shown.js";
import { saveNow } from "./todos.js";

// Moves a todo to `index` among those shown, and gives it an `order` between its new
// neighbours'. Todos without an order (made through the API) sort last; the ones before the new
// place get orders first, so the place exists.
function moveTodo(id, index) {
  if (state.sort !== "order") return Promise.resolve();
  const entry = state.entries.get(id);
  const ids = state.order.filter((other) => other !== id);
  index = Math.max(0, Math.min(index, ids.length));
  place(entry, index);
  return write(async () => {
    let previous = null;
    for (const otherId of ids.slice(0, index)) {
      const other = state.entries.get(otherId);
      if (other.todo.order === null) {
        await saveNow(otherId, { order: (previous ?? 0) + 1 });
      }
      previous = state.entries.get(otherId)?.todo.order ?? previous;
    }
    const next = state.entries.get(ids[index]);
    const after = next ? next.todo.order : null;
    let order;
    if (previous === null) order = after === null ? 0 : after - 1;
    else if (after === null) order = previous + 1;
    else order = (previous + after) / 2;
    await saveNow(id, { order });
  });
}

// `focused` is the element to keep the focus on (moving takes the item out and back in).
export function moveBy(id, delta, focused) {
  const index = state.order.indexOf(id);
  if (index < 0) return;
  const target = index + delta;
  if (target < 0 || target >= state.order.length) return;
  moveTodo(id, target);
  focused?.focus();
  focused?.scrollIntoView({ block: "nearest" });
  say(`Moved to position ${target + 1} of ${state.order.length}`);
}

let dragged = null;

el.todoList.addEventListener("dragstart", (event) => {
  const li = event.target.closest?.("li");
  if (!li || state.sort !== "order") {
    event.preventDefault();
    return;
  }
  dragged = Number(li.dataset.id);
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", li.dataset.id);
  event.dataTransfer.setDragImage(li, 16, 16);
  li.classList.add("dragging");
});

el.todoList.addEventListener("dragover", (event) => {
  if (dragged === null) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = "move";
});

el.todoList.addEventListener("drop", (event) => {
  if (dragged === null) return;
  event.preventDefault();
  const target = event.target.closest("li");
  const id = dragged;
  dragged = null;
  state.entries.get(id)?.li.classList.remove("dragging");
  if (!target || Number(target.dataset.id) === id) return;
  const box = target.getBoundingClientRect();
  const below = event.clientY > box.top + box.height / 2;
  const others = state.order.filter((other) => other !== id);
  const index = others.indexOf(Number(target.dataset.id)) + (below ? 1 : 0);
  moveTodo(id, index);
});

el.todoList.addEventListener("dragend", () => {
  if (dragged !== null) state.entries.get(dragged)?.li.classList.remove("dragging");
  dragged = null;
});

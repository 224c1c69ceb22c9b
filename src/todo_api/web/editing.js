// TodoMVC's interactions on the list: the new-todo field, the toggles, toggle-all and Clear
// completed, the item's buttons and keys, and editing a title in place (double click or F2;
// Enter saves, Escape cancels, an empty title deletes).

import { $, el, state } from "./page.js";
import { render } from "./items.js";
import { addTodo, clearCompleted, destroyTodo, saveTodo, toggleAll } from "./todos.js";
import { moveBy } from "./reorder.js";
import { openDetails } from "./details.js";

el.newTodo.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.isComposing) return;
  const title = el.newTodo.value.trim();
  if (!title) return;
  el.newTodo.value = "";
  addTodo(title);
});

el.toggleAll.addEventListener("change", () => {
  toggleAll(el.toggleAll.checked);
});

el.clearCompleted.addEventListener("click", () => {
  clearCompleted();
});

function entryOf(target) {
  const li = target.closest(".todo-list li");
  return li ? state.entries.get(Number(li.dataset.id)) : null;
}

el.todoList.addEventListener("change", (event) => {
  if (!event.target.classList.contains("toggle")) return;
  const entry = entryOf(event.target);
  if (entry) saveTodo(entry.todo.id, { completed: event.target.checked });
});

el.todoList.addEventListener("click", (event) => {
  const entry = entryOf(event.target);
  if (!entry) return;
  const id = entry.todo.id;
  if (event.target.closest(".destroy")) destroyTodo(id);
  else if (event.target.closest(".open-details")) openDetails(id);
  else if (event.target.closest(".move-up")) moveBy(id, -1, event.target.closest(".move-up"));
  else if (event.target.closest(".move-down")) moveBy(id, 1, event.target.closest(".move-down"));
});

el.todoList.addEventListener("dblclick", (event) => {
  if (event.target.tagName !== "LABEL") return;
  const entry = entryOf(event.target);
  if (entry) startEditing(entry);
});

el.todoList.addEventListener("keydown", (event) => {
  const entry = entryOf(event.target);
  if (!entry) return;
  if (event.target.classList.contains("edit")) {
    if (event.key === "Enter" && !event.isComposing) {
      entry.refocus = true;
      event.target.blur();
    } else if (event.key === "Escape") cancelEditing(entry);
    return;
  }
  if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    event.preventDefault();
    moveBy(entry.todo.id, event.key === "ArrowUp" ? -1 : 1, event.target);
  } else if (event.key === "F2") {
    event.preventDefault();
    startEditing(entry);
  }
});

el.todoList.addEventListener(
  "blur",
  (event) => {
    if (!event.target.classList.contains("edit")) return;
    const entry = entryOf(event.target);
    if (entry) finishEditing(entry);
  },
  true,
);

function startEditing(entry) {
  const edit = $(".edit", entry.li);
  edit.value = entry.todo.title;
  entry.li.classList.add("editing");
  edit.focus();
  edit.setSelectionRange(edit.value.length, edit.value.length);
}

function finishEditing(entry) {
  if (!entry.li.classList.contains("editing")) return;
  entry.li.classList.remove("editing");
  const title = $(".edit", entry.li).value.trim();
  if (!title) destroyTodo(entry.todo.id);
  else if (title !== entry.todo.title) {
    $("label", entry.li).textContent = title;
    saveTodo(entry.todo.id, { title }).then(() => render(entry));
  }
  // Back to the item after Enter; a blur went somewhere the person chose.
  if (entry.refocus) $(".toggle", entry.li).focus({ preventScroll: true });
  entry.refocus = false;
}

function cancelEditing(entry) {
  entry.li.classList.remove("editing"); // before the blur, which then saves nothing
  $(".edit", entry.li).value = entry.todo.title;
  $(".toggle", entry.li).focus({ preventScroll: true });
}

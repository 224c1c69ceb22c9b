// One todo's <li>: builds it once and renders a todo into it (title, completion, priority, due
// date, tags, notes, the labels of its buttons). Rendering only: what the buttons do is
// editing.js's, reorder.js's and details.js's.

import { dueText, isOverdue } from "./due.js";
import { $, button } from "./page.js";

const PRIORITY_LABELS = ["", "Low priority", "Medium priority", "High priority"];
const PRIORITY_MARKS = ["", "!", "!!", "!!!"];

export function render(entry) {
  const li = entry.li || createItem(entry);
  entry.li = li;
  const { todo } = entry;
  li.classList.toggle("completed", todo.completed);
  const overdue = isOverdue(todo);
  li.classList.toggle("overdue", overdue);
  const toggle = $(".toggle", li);
  toggle.checked = todo.completed;
  toggle.setAttribute("aria-label", `Completed: ${todo.title}`);
  $("label", li).textContent = todo.title;
  $(".destroy", li).setAttribute("aria-label", `Delete: ${todo.title}`);
  $(".open-details", li).setAttribute("aria-label", `Details of: ${todo.title}`);
  $(".move-up", li).setAttribute("aria-label", `Move up: ${todo.title}`);
  $(".move-down", li).setAttribute("aria-label", `Move down: ${todo.title}`);

  const meta = $(".meta", li);
  const parts = [];
  if (todo.priority > 0) {
    // Named as an image, not with a visually hidden text: an absolutely positioned element per
    // item would be a paint layer per item, which long lists pay for in every frame.
    const priority = document.createElement("span");
    priority.className = `priority priority-${todo.priority}`;
    priority.textContent = PRIORITY_MARKS[todo.priority];
    priority.title = PRIORITY_LABELS[todo.priority];
    priority.setAttribute("role", "img");
    priority.setAttribute("aria-label", PRIORITY_LABELS[todo.priority]);
    parts.push(priority);
  }
  const due = dueText(todo);
  if (due) {
    const time = document.createElement("time");
    time.className = overdue ? "due overdue-label" : "due";
    time.dateTime = todo.due_at || todo.due_date;
    time.textContent = overdue ? `Overdue: ${due}` : `Due ${due}`;
    parts.push(time);
  }
  for (const tag of todo.tags) {
    const chip = document.createElement("span");
    chip.className = "tag";
    chip.textContent = `#${tag}`;
    parts.push(chip);
  }
  if (todo.description) {
    const notes = document.createElement("span");
    notes.className = "notes";
    notes.textContent = todo.description;
    parts.push(notes);
  }
  meta.replaceChildren(...parts);
  meta.hidden = parts.length === 0;
  return li;
}

function createItem(entry) {
  const li = document.createElement("li");
  li.dataset.id = String(entry.todo.id);
  const view = document.createElement("div");
  view.className = "view";
  const handle = document.createElement("span");
  handle.className = "drag-handle";
  handle.draggable = true;
  handle.setAttribute("aria-hidden", "true");
  handle.textContent = "⠿";
  const toggle = document.createElement("input");
  toggle.className = "toggle";
  toggle.type = "checkbox";
  const label = document.createElement("label");
  const meta = document.createElement("span");
  meta.className = "meta";
  const up = button("move-up", "↑");
  const down = button("move-down", "↓");
  const details = button("open-details", "⋯");
  const destroy = button("destroy", "");
  view.append(handle, toggle, label, meta, up, down, details, destroy);
  const edit = document.createElement("input");
  edit.className = "edit";
  edit.setAttribute("aria-label", "Title");
  edit.maxLength = 500;
  li.append(view, edit);
  return li;
}

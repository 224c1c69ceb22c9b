// The details dialog: a todo's other fields (notes, list, tags, priority, due date), read
// fresh when it opens and saved as only the fields that changed.

import { dueFields, dueInputs } from "./due.js";
import { $, api, el, failed, state } from "./page.js";
import { show } from "./shown.js";
import { saveTodo } from "./todos.js";

export let detailsOf = null; // { id, todo, etag } while the dialog is open

export async function openDetails(id) {
  let fresh;
  try {
    fresh = await api.getTodo(id);
  } catch (error) {
    failed(error);
    return;
  }
  const entry = state.entries.get(id);
  if (entry && fresh.item.updated_at !== entry.todo.updated_at) show(fresh.item, fresh.etag);
  else if (entry) entry.etag = fresh.etag;
  detailsOf = { id, todo: fresh.item, etag: fresh.etag };
  const form = el.detailsForm;
  const todo = fresh.item;
  form.elements.title.value = todo.title;
  form.elements.description.value = todo.description || "";
  form.elements.list_id.replaceChildren(
    ...state.lists.map((list) => new Option(list.name, String(list.id))),
  );
  form.elements.list_id.value = String(todo.list_id);
  form.elements.tags.value = todo.tags.join(", ");
  form.elements.priority.value = String(todo.priority);
  const { date, time } = dueInputs(todo);
  form.elements.due_date.value = date;
  form.elements.due_time.value = time;
  $(".form-error", form).textContent = "";
  el.details.showModal();
  form.elements.title.focus();
}

function detailsChanges() {
  const form = el.detailsForm.elements;
  const todo = detailsOf.todo;
  const wanted = {
    title: form.title.value.trim(),
    description: form.description.value === "" ? null : form.description.value,
    list_id: Number(form.list_id.value),
    tags: form.tags.value.split(",").map((tag) => tag.trim()).filter(Boolean),
    priority: Number(form.priority.value),
    ...dueFields(form.due_date.value, form.due_time.value),
  };
  const changes = {};
  for (const [field, value] of Object.entries(wanted)) {
    if (JSON.stringify(value) !== JSON.stringify(todo[field])) changes[field] = value;
  }
  if ("due_at" in changes || "due_date" in changes) {
    changes.due_at = wanted.due_at;
    changes.due_date = wanted.due_date;
  }
  return changes;
}

el.detailsForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const changes = detailsChanges();
  if (!changes.title && "title" in changes) {
    $(".form-error", el.detailsForm).textContent = "A todo needs a title.";
    return;
  }
  const { id, etag } = detailsOf;
  el.details.close();
  if (Object.keys(changes).length === 0) return;
  const entry = state.entries.get(id);
  if (entry) {
    entry.etag = etag;
    // What the person saw is what their edit is based on.
    entry.todo = { ...entry.todo, updated_at: detailsOf.todo.updated_at };
  }
  await saveTodo(id, changes);
});

$(".cancel", el.detailsForm).addEventListener("click", () => el.details.close());

// The close event comes a task after the dialog closed, when the browser has already put the
// focus back and a quick Tab may have moved it on within the item: only a focus that went
// nowhere (the item re-rendered meanwhile) is brought back.
el.details.addEventListener("close", () => {
  const entry = detailsOf && state.entries.get(detailsOf.id);
  if (entry && !entry.li.contains(document.activeElement)) $(".open-details", entry.li)?.focus();
  detailsOf = null;
});

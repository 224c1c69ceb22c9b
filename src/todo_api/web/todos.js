// Changing todos on the server: add, save and delete with If-Match (a todo that changed since
// it was shown is a conflict the person settles), and the bulk actions of the footer (toggle
// all, clear completed) on the scope. Each change is a write (shown.js) and shows its answer.

import { ApiError } from "./api.js";
import { api, conflicts, say, state } from "./page.js";
import {
  belongsInView,
  narrowed,
  NEWEST_FIRST,
  refreshTagsSoon,
  scopeFilters,
  scopeText,
} from "./query.js";
import { render } from "./items.js";
import { adjustCounts, drop, load, nextOrder, place, show, showCounts, write } from "./shown.js";

export function addTodo(title) {
  const fields = { title, order: nextOrder() };
  if (state.listId !== null) fields.list_id = state.listId;
  return write(async () => {
    const { item, etag } = await api.createTodo(fields);
    if (narrowed() && !(await inScope(item))) {
      // The results stay the results: a todo that the search or tag would not find is not
      // slipped into them, but the person is told where it went (the counts are asked again
      // after the write).
      say(`Added “${item.title}”. It does not match ${scopeText()}, so it is not among the results.`);
      refreshTagsSoon();
      return;
    }
    adjustCounts(null, item);
    if (!belongsInView(item, true) || state.entries.has(item.id)) return;
    const entry = { todo: item, etag, li: null };
    state.entries.set(item.id, entry);
    render(entry);
    place(entry, NEWEST_FIRST.has(state.sort) ? 0 : state.order.length);
    showCounts();
    refreshTagsSoon();
  });
}

// Whether the search and tag in force find a todo just made: the server decides (its full-text
// search folds accents and matches prefixes), asked for the newest open todos of the scope.
const NEWEST_CHECKED = 20;

async function inScope(todo) {
  const page = await api.todoPage({
    ...scopeFilters(), completed: false, sort: "-created_at", limit: NEWEST_CHECKED,
  });
  return page.todos.some((candidate) => candidate.id === todo.id);
}

// A change with If-Match. The page knows a todo's version once the server has sent its ETag;
// for a todo that came in a page (pages carry no ETags) it asks for it first, and a todo that
// changed since it was shown is a conflict like a 412.
export function saveTodo(id, changes) {
  return write(() => saveNow(id, changes));
}

export async function saveNow(id, changes) {
  const entry = state.entries.get(id);
  if (!entry) return;
  let etag = entry.etag;
  if (!etag) {
    const fresh = await api.getTodo(id);
    if (fresh.item.updated_at !== entry.todo.updated_at) {
      await settleConflict(entry, changes, fresh);
      return;
    }
    etag = fresh.etag;
  }
  try {
    const saved = await api.patchTodo(id, changes, etag);
    show(saved.item, saved.etag);
    refreshTagsSoon();
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 412) throw error;
    await settleConflict(entry, changes, await api.getTodo(id));
  }
}

async function settleConflict(entry, changes, fresh) {
  const keepMine = await conflicts.ask(entry.todo, changes, fresh.item);
  if (keepMine) {
    entry.todo = fresh.item;
    entry.etag = fresh.etag;
    await saveNow(entry.todo.id, changes);
  } else {
    show(fresh.item, fresh.etag);
  }
}

export function destroyTodo(id) {
  return write(async () => {
    const entry = state.entries.get(id);
    if (!entry) return;
    let etag = entry.etag;
    if (!etag) {
      const fresh = await api.getTodo(id);
      if (fresh.item.updated_at !== entry.todo.updated_at) return keptNewer(fresh);
      etag = fresh.etag;
    }
    try {
      await api.deleteTodo(id, etag);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 412) throw error;
      return keptNewer(await api.getTodo(id));
    }
    adjustCounts(entry.todo, null);
    drop(id);
    refreshTagsSoon();
  });
}

// A delete of a todo that changed since it was shown does not happen: the newer version is
// shown instead, for the person to look at and delete again if they still mean to.
function keptNewer(fresh) {
  show(fresh.item, fresh.etag);
  say(`Not deleted: “${fresh.item.title}” changed meanwhile. Its newer version is shown.`);
}

// Bulk changes carry no If-Match (the API has none for them); the page reloads inside the same
// write, so that a change clicked meanwhile applies to what the server now holds. Both act on
// the scope (list, search, tag), the same filters the page was listed with.
export function toggleAll(completed) {
  return write(async () => {
    await api.patchTodos({ ...scopeFilters(), completed: !completed }, { completed });
    await load();
  });
}

export function clearCompleted() {
  return write(async () => {
    await api.deleteTodos({ ...scopeFilters(), completed: true });
    for (const id of [...state.order]) {
      if (state.entries.get(id).todo.completed) drop(id);
    }
    state.counts.completed = 0;
    showCounts();
  });
}

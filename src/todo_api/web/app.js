// The web app: TodoMVC's list view (app-spec.md, its markup and behaviour) over the todo-api
// API, with lists, tags, priority, due dates, notes, search, sort, reordering and cursor pages.
// The server holds the state; the page shows what the server answered. User text is only ever
// set with textContent or as a form value: never parsed as HTML.

import { Api, ApiError } from "./api.js";
import { Account } from "./account.js";
import { ConflictDialog, ConfirmDialog } from "./dialogs.js";
import { dueText, isOverdue, dueFields, dueInputs } from "./due.js";
import { ListWindow } from "./list_window.js";

const api = new Api();
const $ = (selector, root = document) => root.querySelector(selector);
const FILTER_ROUTES = { "#/": "all", "#/active": "active", "#/completed": "completed" };
const PRIORITY_LABELS = ["", "Low priority", "Medium priority", "High priority"];
const PRIORITY_MARKS = ["", "!", "!!", "!!!"];
const LIST_KEY = "todo-api.list";
const SORT_KEY = "todo-api.sort";
const SEARCH_DELAY_MS = 200;
// Sorts in which a new todo belongs at the top rather than the bottom.
const NEWEST_FIRST = new Set(["-created_at", "-updated_at"]);

const el = {
  app: $(".app"),
  lists: $(".lists"),
  newListForm: $(".new-list-form"),
  newList: $(".new-list"),
  listName: $(".current-list-name"),
  newTodo: $(".new-todo"),
  search: $(".search"),
  tagFilter: $(".tag-filter"),
  sort: $(".sort"),
  main: $(".main"),
  toggleAll: $(".toggle-all"),
  toggleAllLabel: $('label[for="toggle-all"]'),
  todoList: $(".todo-list"),
  loadingMore: $(".loading-more"),
  sentinel: $(".page-sentinel"),
  footer: $(".footer"),
  count: $(".todo-count"),
  filters: $(".filters"),
  clearCompleted: $(".clear-completed"),
  status: $(".status"),
  importFile: $(".import-file"),
  details: $(".details"),
  detailsForm: $(".details-form"),
};

const state = {
  lists: [],
  listId: null,
  filter: "all",
  q: "",
  tag: "",
  sort: localStorage.getItem(SORT_KEY) || "order",
  entries: new Map(), // todo id -> { todo, etag (null until the server told us), li }
  order: [], // ids as shown, top to bottom
  next: null, // the next page's URL, from the Link header
  loadingPage: false,
  generation: 0, // bumped by every reload; answers of an older one are dropped
  counts: { active: 0, completed: 0 },
  countsAsked: 0,
  pendingWrites: 0,
  lastOrder: 0,
  loaded: Promise.resolve(), // the current reload
};

const listWindow = new ListWindow(el.todoList, () => state.order, (id) => state.entries.get(id).li);
const conflicts = new ConflictDialog($(".conflict"));
const confirmation = new ConfirmDialog($(".confirm"));

// ---------------------------------------------------------------- status and errors

function say(message) {
  el.status.textContent = "";
  // A fresh text node, so a screen reader announces a repeated message again.
  requestAnimationFrame(() => {
    el.status.textContent = message;
  });
}

function failed(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
  say(`Could not save: ${error.message}`);
  console.warn(error);
}

// Writes run one after another in the order the person made them, so that answers cannot
// overtake each other; counts are asked again once none is running.
let writeChain = Promise.resolve();

function write(work) {
  state.pendingWrites++;
  state.countsAsked++;
  document.body.classList.add("saving");
  // A write waits for the page being loaded: its answer must not land in a list that the load
  // then replaces.
  const run = writeChain.then(() => state.loaded).then(work).catch(failed).finally(() => {
    state.pendingWrites--;
    if (state.pendingWrites === 0) {
      document.body.classList.remove("saving");
      refreshCounts();
    }
  });
  writeChain = run;
  return run;
}

// ---------------------------------------------------------------- queries

function listFilters() {
  return state.listId === null ? {} : { list_id: state.listId };
}

// The todos a person is looking at, whatever the route: the list, narrowed by a search and a
// tag. Counts and the bulk actions (toggle-all, Clear completed) act on this scope, so that they
// never reach a todo that a search hides. The routes (#/active, #/completed) are not part of it:
// as in TodoMVC, Clear completed on #/active still clears every completed todo of the list.
function scopeFilters() {
  const filters = listFilters();
  if (searching()) filters.q = state.q;
  if (state.tag) filters.tag = state.tag;
  return filters;
}

function searching() {
  return /[\p{L}\p{N}]/u.test(state.q);
}

function narrowed() {
  return searching() || Boolean(state.tag);
}

// "“apple” and #shop": what narrows the scope, for the counter and the bulk actions' labels.
function scopeText() {
  const parts = [];
  if (searching()) parts.push(`“${state.q}”`);
  if (state.tag) parts.push(`#${state.tag}`);
  return parts.join(" and ");
}

function viewFilters() {
  const filters = { ...scopeFilters(), sort: state.sort };
  if (state.filter !== "all") filters.completed = state.filter === "completed";
  return filters;
}

// Under a search or a tag, whether a todo the page does not show yet belongs is the server's to
// say (its search folds accents and matches prefixes): only one it `verified` (inScope) is let
// in; the others, a change heard from elsewhere included, wait for the next reload.
function belongsInView(todo, verified = false) {
  if (state.listId !== null && todo.list_id !== state.listId) return false;
  if (state.filter === "active" && todo.completed) return false;
  if (state.filter === "completed" && !todo.completed) return false;
  if (narrowed() && !verified && !state.entries.has(todo.id)) return false;
  return true;
}

function reload() {
  state.loaded = load();
  return state.loaded;
}

async function load() {
  const generation = ++state.generation;
  state.next = null;
  state.loadingPage = true;
  try {
    const page = await api.todoPage(viewFilters());
    if (generation !== state.generation) return;
    const shown = state.entries;
    state.entries = new Map();
    state.order = [];
    listWindow.reset();
    appendPage(page, shown);
  } catch (error) {
    failed(error);
  } finally {
    if (generation === state.generation) state.loadingPage = false;
  }
  refreshCounts();
  refreshTags();
  loadMoreIfVisible();
}

async function loadMore() {
  if (!state.next || state.loadingPage) return;
  const generation = state.generation;
  state.loadingPage = true;
  el.loadingMore.hidden = false;
  try {
    const page = await api.todoPage(null, state.next);
    if (generation === state.generation) appendPage(page);
  } catch (error) {
    failed(error);
  } finally {
    if (generation === state.generation) {
      state.loadingPage = false;
      el.loadingMore.hidden = true;
      loadMoreIfVisible();
    }
  }
}

// `shown`: the entries before a reload, whose items are reused (the same elements stay in the
// page: nothing a person or a test holds goes stale, and an unchanged todo keeps its ETag).
function appendPage(page, shown = null) {
  state.next = page.next;
  let count = 0;
  for (const todo of page.todos) {
    if (state.entries.has(todo.id)) continue; // made here meanwhile, already shown
    const before = shown?.get(todo.id);
    const unchanged = before && before.todo.updated_at === todo.updated_at;
    const entry = { todo, etag: unchanged ? before.etag : null, li: before ? before.li : null };
    state.entries.set(todo.id, entry);
    state.order.push(todo.id);
    render(entry);
    noteOrder(todo);
    count++;
  }
  listWindow.appended(count);
  el.todoList.dataset.loaded = String(state.order.length);
}

// Infinite scroll: the next page is asked for when the end of the list comes into view.
const pageObserver = new IntersectionObserver(
  (observed) => {
    if (observed.some((item) => item.isIntersecting)) loadMore();
  },
  { rootMargin: "600px 0px" },
);

function loadMoreIfVisible() {
  // The observer fires on changes only: re-arm it so a short page that leaves the sentinel in
  // view asks for the next one.
  pageObserver.unobserve(el.sentinel);
  pageObserver.observe(el.sentinel);
}

async function refreshCounts() {
  if (state.pendingWrites > 0) return;
  const asked = ++state.countsAsked;
  try {
    const [active, completed] = await Promise.all([
      api.countTodos({ ...scopeFilters(), completed: false }),
      api.countTodos({ ...scopeFilters(), completed: true }),
    ]);
    if (asked === state.countsAsked && state.pendingWrites === 0) {
      state.counts = { active, completed };
      showCounts();
    }
  } catch (error) {
    failed(error);
  }
}

async function refreshTags() {
  try {
    const tags = await api.tags();
    const options = [new Option("Any tag", "")];
    for (const tag of tags) options.push(new Option(`${tag.name} (${tag.count})`, tag.name));
    if (state.tag && !tags.some((tag) => tag.name.toLowerCase() === state.tag.toLowerCase())) {
      options.push(new Option(state.tag, state.tag));
    }
    el.tagFilter.replaceChildren(...options);
    el.tagFilter.value = state.tag;
  } catch (error) {
    failed(error);
  }
}

// ---------------------------------------------------------------- rendering

function render(entry) {
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

function button(className, text) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  return element;
}

function showCounts() {
  const { active, completed } = state.counts;
  const total = active + completed;
  el.main.hidden = total === 0 && state.order.length === 0;
  el.footer.hidden = total === 0;
  const strong = document.createElement("strong");
  strong.textContent = String(active);
  const left = ` ${active === 1 ? "item" : "items"} left`;
  // Under a search or a tag the counter and the bulk actions say that they are about the
  // matching todos only; without one they read exactly as TodoMVC's.
  const scope = narrowed() ? scopeText() : "";
  el.count.replaceChildren(strong, scope ? `${left} matching ${scope}` : left);
  el.clearCompleted.textContent = scope ? "Clear completed matches" : "Clear completed";
  el.toggleAllLabel.textContent = scope ? "Mark all matches as complete" : "Mark all as complete";
  el.clearCompleted.hidden = completed === 0;
  el.toggleAll.checked = total > 0 && active === 0;
}

function showFilter() {
  for (const link of el.filters.querySelectorAll("a")) {
    const selected = FILTER_ROUTES[link.getAttribute("href")] === state.filter;
    link.classList.toggle("selected", selected);
    if (selected) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.body.classList.toggle("reorderable", state.sort === "order");
}

function adjustCounts(before, after) {
  const counts = state.counts;
  if (before) counts[before.completed ? "completed" : "active"]--;
  if (after) counts[after.completed ? "completed" : "active"]++;
  showCounts();
}

// ---------------------------------------------------------------- the entries

function place(entry, index) {
  const id = entry.todo.id;
  const old = state.order.indexOf(id);
  if (old >= 0) {
    state.order.splice(old, 1);
    listWindow.removed(id, old, entry.li);
  }
  state.order.splice(index, 0, id);
  listWindow.inserted(id, index);
}

function drop(id) {
  const entry = state.entries.get(id);
  if (!entry) return;
  const index = state.order.indexOf(id);
  state.order.splice(index, 1);
  listWindow.removed(id, index, entry.li);
  state.entries.delete(id);
  if (state.order.length === 0) showCounts();
}

function show(todo, etag) {
  const entry = state.entries.get(todo.id);
  if (!entry) return;
  const before = entry.todo;
  entry.todo = todo;
  entry.etag = etag;
  noteOrder(todo);
  if (before.completed !== todo.completed || before.list_id !== todo.list_id) {
    adjustCounts(before.list_id === state.listId || state.listId === null ? before : null,
      todo.list_id === state.listId || state.listId === null ? todo : null);
  }
  if (belongsInView(todo)) render(entry);
  else drop(todo.id);
}

function noteOrder(todo) {
  if (todo.order !== null && todo.order > state.lastOrder) state.lastOrder = todo.order;
}

function nextOrder() {
  state.lastOrder = Math.max(state.lastOrder + 1, Date.now());
  return state.lastOrder;
}

// ---------------------------------------------------------------- changing todos

function addTodo(title) {
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
function saveTodo(id, changes) {
  return write(() => saveNow(id, changes));
}

async function saveNow(id, changes) {
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

function destroyTodo(id) {
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
function toggleAll(completed) {
  return write(async () => {
    await api.patchTodos({ ...scopeFilters(), completed: !completed }, { completed });
    await load();
  });
}

function clearCompleted() {
  return write(async () => {
    await api.deleteTodos({ ...scopeFilters(), completed: true });
    for (const id of [...state.order]) {
      if (state.entries.get(id).todo.completed) drop(id);
    }
    state.counts.completed = 0;
    showCounts();
  });
}

let tagsTimer = 0;
function refreshTagsSoon() {
  clearTimeout(tagsTimer);
  tagsTimer = setTimeout(refreshTags, SEARCH_DELAY_MS);
}

// ---------------------------------------------------------------- reordering

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
function moveBy(id, delta, focused) {
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

// ---------------------------------------------------------------- TodoMVC's interactions

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

// ---------------------------------------------------------------- details (the other fields)

let detailsOf = null; // { id, todo, etag } while the dialog is open

async function openDetails(id) {
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

// ---------------------------------------------------------------- lists

function renderLists() {
  const items = state.lists.map((list) => {
    const li = document.createElement("li");
    li.className = "list-item";
    li.dataset.id = String(list.id);
    const select = button("list-select", list.name);
    if (list.id === state.listId) select.setAttribute("aria-current", "true");
    const rename = button("list-rename", "✎");
    rename.setAttribute("aria-label", `Rename list: ${list.name}`);
    li.append(select, rename);
    if (!list.is_default) {
      const remove = button("list-delete", "×");
      remove.setAttribute("aria-label", `Delete list: ${list.name}`);
      li.append(remove);
    }
    return li;
  });
  el.lists.replaceChildren(...items);
  const current = state.lists.find((list) => list.id === state.listId);
  el.listName.textContent = current ? current.name : "";
}

async function loadLists() {
  state.lists = await api.lists();
  const stored = Number(localStorage.getItem(LIST_KEY));
  const chosen =
    state.lists.find((list) => list.id === (state.listId ?? stored)) ||
    state.lists.find((list) => list.is_default) ||
    state.lists[0];
  state.listId = chosen ? chosen.id : null;
  renderLists();
}

function selectList(id) {
  state.listId = id;
  localStorage.setItem(LIST_KEY, String(id));
  renderLists();
  reload();
}

el.lists.addEventListener("click", (event) => {
  const item = event.target.closest(".list-item");
  if (!item) return;
  const id = Number(item.dataset.id);
  if (event.target.closest(".list-select")) selectList(id);
  else if (event.target.closest(".list-rename")) startRenaming(item, id);
  else if (event.target.closest(".list-delete")) deleteList(id);
});

function startRenaming(item, id) {
  const list = state.lists.find((candidate) => candidate.id === id);
  const input = document.createElement("input");
  input.className = "list-name-edit";
  input.value = list.name;
  input.maxLength = 200;
  input.setAttribute("aria-label", `New name for the list ${list.name}`);
  item.replaceChildren(input);
  input.focus();
  input.select();
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const name = input.value.trim();
    if (save && name && name !== list.name) await write(() => renameList(list, name));
    renderLists();
    $(`.list-item[data-id="${id}"] .list-rename`, el.lists)?.focus();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.isComposing) finish(true);
    else if (event.key === "Escape") finish(false);
  });
  input.addEventListener("blur", () => finish(true));
}

async function deleteList(id) {
  const list = state.lists.find((candidate) => candidate.id === id);
  const sure = await confirmation.ask(
    `Delete the list “${list.name}” and every todo in it? This cannot be undone.`,
  );
  if (!sure) return;
  let deleted = false;
  await write(async () => {
    deleted = await deleteSeenList(list);
  });
  if (!deleted) {
    renderLists();
    $(`.list-item[data-id="${id}"] .list-delete`, el.lists)?.focus();
    return;
  }
  if (state.listId === id) {
    state.listId = null;
    await loadLists();
    reload();
  } else renderLists();
  el.newList.focus();
}

// Lists are written as todos are: with If-Match of the version the person saw. The sidebar's
// lists came without ETags, so the page reads the list first, and one that changed since it
// was shown is a conflict like a 412 (`seen` is the list as shown, kept when the rename or the
// confirmation began, before the change feed could replace it).
async function currentList(seen) {
  const fresh = await api.getList(seen.id);
  return fresh.item.updated_at === seen.updated_at ? fresh : null;
}

function showNewerList(fresh) {
  const index = state.lists.findIndex((candidate) => candidate.id === fresh.item.id);
  if (index >= 0) state.lists[index] = fresh.item;
  else state.lists.push(fresh.item);
}

async function renameList(seen, name) {
  const fresh = await currentList(seen);
  let saved = null;
  if (fresh) {
    try {
      saved = await api.patchList(seen.id, { name }, fresh.etag);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 412) throw error;
    }
  }
  if (!saved) {
    const newer = await api.getList(seen.id);
    const keepMine = await conflicts.ask(seen, { name }, newer.item, "list");
    if (!keepMine) return showNewerList(newer);
    return renameList(newer.item, name);
  }
  showNewerList(saved);
}

// A delete of a list that changed since it was shown does not happen (as for todos): its newer
// version is shown, for the person to look at and delete again if they still mean to.
async function deleteSeenList(seen) {
  const fresh = await currentList(seen);
  if (fresh) {
    try {
      await api.deleteList(seen.id, fresh.etag);
      state.lists = state.lists.filter((candidate) => candidate.id !== seen.id);
      say(`Deleted the list ${seen.name}.`);
      return true;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 412) throw error;
    }
  }
  const newer = await api.getList(seen.id);
  showNewerList(newer);
  say(`Not deleted: the list “${seen.name}” changed meanwhile (now “${newer.item.name}”). Its newer version is shown.`);
  return false;
}

el.newListForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = el.newList.value.trim();
  if (!name) return;
  el.newList.value = "";
  write(async () => {
    const { item } = await api.createList(name);
    state.lists.push(item);
    selectList(item.id);
  });
});

// ---------------------------------------------------------------- search, tags, sort, filters

let searchTimer = 0;
el.search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const q = el.search.value.trim();
    if (q === state.q) return;
    state.q = q;
    reload();
  }, SEARCH_DELAY_MS);
});

el.tagFilter.addEventListener("change", () => {
  state.tag = el.tagFilter.value;
  reload();
});

el.sort.addEventListener("change", () => {
  state.sort = el.sort.value;
  localStorage.setItem(SORT_KEY, state.sort);
  showFilter();
  reload();
});

function route() {
  const filter = FILTER_ROUTES[location.hash] || "all";
  const changed = filter !== state.filter;
  state.filter = filter;
  showFilter();
  return changed;
}

window.addEventListener("hashchange", () => {
  if (route()) reload();
});

// ---------------------------------------------------------------- import

el.importFile.addEventListener("change", async () => {
  const file = el.importFile.files[0];
  if (!file) return;
  el.importFile.value = "";
  await write(async () => {
    const result = await api.importFile(file);
    say(`Imported ${result.todos ?? 0} todos and ${result.lists ?? 0} lists.`);
  });
  await loadLists();
  reload();
});

// ---------------------------------------------------------------- live changes (GET /events)

// Changes made elsewhere (another tab, device, or an API client) arrive as events; the page
// reads what changed and shows it. Its own changes come back too: they match what it shows
// (same updated_at) and change nothing. A todo being edited here is left alone: saving it
// then meets the newer version (412) and the person chooses.
const LIVE_DELAY_MS = 100;
// EventSource reconnects by itself after a dropped connection, but gives up for good on any
// answer but 200: a 429 (this user's other tabs hold every stream the server allows,
// TODO_EVENTS_MAX_STREAMS), a 503, a 401. The page then asks GET /events without
// `text/event-stream` (a poll: the changes since the last id, at once) every POLL_MS while it
// is in view, so changes still show within about a second, and tries a stream again later,
// each time later. A 401 shows the sign-in screen (api.request does that).
const POLL_MS = 800;
const HIDDEN_POLL_MS = 5000; // a tab out of view costs the user's rate limit little
const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 60000;
let feed = null;
let lastEventId = null;
let polling = false;
let pollTimer = 0;
let retryMs = RETRY_FIRST_MS;
let retryTimer = 0;
let reloadTimer = 0;
let listsTimer = 0;

function listen() {
  if (feed || typeof EventSource === "undefined") return;
  feed = new EventSource(new URL("events", document.baseURI));
  feed.addEventListener("open", () => {
    retryMs = RETRY_FIRST_MS;
    if (polling) {
      polling = false;
      clearTimeout(pollTimer);
      poll(); // once more: what changed before the stream began
    }
  });
  feed.addEventListener("change", (event) => heard("change", event.lastEventId, event.data));
  feed.addEventListener("reset", (event) => heard("reset", event.lastEventId));
  feed.addEventListener("error", () => {
    if (feed?.readyState !== EventSource.CLOSED) return; // dropped: EventSource reconnects
    feed.close();
    feed = null;
    retryTimer = setTimeout(listen, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    if (!polling) {
      polling = true;
      poll();
    }
  });
}

function heard(event, id, data) {
  if (id) lastEventId = id;
  if (event === "change") {
    onChange(JSON.parse(data)).catch((error) => console.warn(error));
  } else if (event === "reset") {
    // The changes since this page last heard were pruned (it was away longer than the server
    // keeps them): what it shows may be stale, so it reads the lists and the todos again.
    listsSoon();
    reloadSoon();
  }
}

// A poll's answer is the stream's format: `field: value` lines, a blank line after each event.
// Without an id yet (no stream ever opened), the first answer says where the feed stands, and
// what changed since the page read its todos is read again.
async function poll() {
  try {
    const first = lastEventId === null;
    const headers = first ? {} : { "Last-Event-ID": lastEventId };
    const response = await api.request("GET", "events", { headers });
    for (const block of (await response.text()).split("\n\n")) {
      const fields = {};
      for (const line of block.split("\n")) {
        const colon = line.indexOf(": ");
        if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 2);
      }
      heard(fields.event, fields.id, fields.data);
    }
    if (first) heard("reset");
  } catch (error) {
    console.warn(error); // a 401 has shown the sign-in screen, which stopped the polling
  }
  if (polling) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
  }
}

document.addEventListener("visibilitychange", () => {
  if (polling && !document.hidden) poll();
});

function stopListening() {
  feed?.close();
  feed = null;
  polling = false;
  clearTimeout(pollTimer);
  clearTimeout(retryTimer);
  retryMs = RETRY_FIRST_MS;
  lastEventId = null;
}

function busyWith(id) {
  const entry = state.entries.get(id);
  return (
    (entry && entry.li.classList.contains("editing")) || (detailsOf !== null && detailsOf.id === id)
  );
}

function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => {
    const busy = document.querySelector(".todo-list li.editing") || el.details.open;
    if (busy || state.pendingWrites > 0) reloadSoon();
    else reload();
  }, LIVE_DELAY_MS);
}

// The sidebar is read again, but not under a list being renamed: that waits until it is done.
function listsSoon() {
  clearTimeout(listsTimer);
  listsTimer = setTimeout(() => {
    if (document.querySelector(".list-name-edit")) listsSoon();
    else loadLists().catch((error) => console.warn(error));
  }, LIVE_DELAY_MS);
}

async function onChange(change) {
  if (change.kind === "list") {
    listsSoon();
    if (change.action === "deleted") reloadSoon();
    return;
  }
  if (change.kind === "todos") {
    reloadSoon();
    return;
  }
  const id = change.id;
  if (busyWith(id)) return;
  if (change.action === "deleted") {
    drop(id);
  } else {
    let fresh;
    try {
      fresh = await api.getTodo(id);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) drop(id);
      return;
    }
    const entry = state.entries.get(id);
    if (busyWith(id)) return;
    if (entry) {
      if (entry.todo.updated_at !== fresh.item.updated_at) show(fresh.item, fresh.etag);
    } else if (belongsInView(fresh.item) && (NEWEST_FIRST.has(state.sort) || !state.next)) {
      const added = { todo: fresh.item, etag: fresh.etag, li: null };
      state.entries.set(id, added);
      render(added);
      place(added, NEWEST_FIRST.has(state.sort) ? 0 : state.order.length);
      noteOrder(fresh.item);
    }
  }
  refreshCounts();
  refreshTagsSoon();
}

// ---------------------------------------------------------------- start

let started = false;

async function showTodos() {
  el.app.hidden = false;
  el.newTodo.focus();
  if (started) return;
  started = true;
  el.sort.value = state.sort;
  route();
  try {
    await loadLists();
  } catch (error) {
    failed(error);
  }
  await reload();
  listen();
  document.body.dataset.ready = "true";
}

function hideTodos() {
  stopListening();
  el.app.hidden = true;
  started = false;
  state.listId = null;
  state.entries.clear();
  state.order = [];
  listWindow.reset();
  delete document.body.dataset.ready;
}

const account = new Account(api, {
  auth: $('meta[name="todo-api-auth"]').content,
  registration: $('meta[name="todo-api-registration"]').content,
  onSignedIn: showTodos,
  onSignedOut: hideTodos,
});
account.start();

// The todos the page shows and their counts: loading pages (and the next one on scroll), the
// entries (todo, ETag, <li>) in their order, the footer's counter, and the queue that runs
// writes one at a time behind the current load. Everything that changes what is shown goes
// through here, so the entries, the list window and the counts stay in step.

import { api, el, failed, listWindow, state } from "./page.js";
import {
  belongsInView,
  narrowed,
  refreshTags,
  scopeFilters,
  scopeText,
  viewFilters,
} from "./query.js";
import { render } from "./items.js";

// Writes run one after another in the order the person made them, so that answers cannot
// overtake each other; counts are asked again once none is running.
let writeChain = Promise.resolve();

export function write(work) {
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

export function reload() {
  state.loaded = load();
  return state.loaded;
}

export async function load() {
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

export async function refreshCounts() {
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

export function showCounts() {
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

export function adjustCounts(before, after) {
  const counts = state.counts;
  if (before) counts[before.completed ? "completed" : "active"]--;
  if (after) counts[after.completed ? "completed" : "active"]++;
  showCounts();
}

// ---------------------------------------------------------------- the entries

export function place(entry, index) {
  const id = entry.todo.id;
  const old = state.order.indexOf(id);
  if (old >= 0) {
    state.order.splice(old, 1);
    listWindow.removed(id, old, entry.li);
  }
  state.order.splice(index, 0, id);
  listWindow.inserted(id, index);
}

export function drop(id) {
  const entry = state.entries.get(id);
  if (!entry) return;
  const index = state.order.indexOf(id);
  state.order.splice(index, 1);
  listWindow.removed(id, index, entry.li);
  state.entries.delete(id);
  if (state.order.length === 0) showCounts();
}

export function show(todo, etag) {
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

export function noteOrder(todo) {
  if (todo.order !== null && todo.order > state.lastOrder) state.lastOrder = todo.order;
}

export function nextOrder() {
  state.lastOrder = Math.max(state.lastOrder + 1, Date.now());
  return state.lastOrder;
}

// What the person asks to see: the route (#/active, #/completed), the search, the tag and the
// sort — their controls, and the filters they make for the API (the scope that counts and bulk
// actions act on, and the view that pages are listed with). Also the tag filter's options.

import { api, el, failed, SORT_KEY, state } from "./page.js";
import { reload } from "./shown.js";

const FILTER_ROUTES = { "#/": "all", "#/active": "active", "#/completed": "completed" };

const SEARCH_DELAY_MS = 200;
// Sorts in which a new todo belongs at the top rather than the bottom.
export const NEWEST_FIRST = new Set(["-created_at", "-updated_at"]);

function listFilters() {
  return state.listId === null ? {} : { list_id: state.listId };
}

// The todos a person is looking at, whatever the route: the list, narrowed by a search and a
// tag. Counts and the bulk actions (toggle-all, Clear completed) act on this scope, so that they
// never reach a todo that a search hides. The routes (#/active, #/completed) are not part of it:
// as in TodoMVC, Clear completed on #/active still clears every completed todo of the list.
export function scopeFilters() {
  const filters = listFilters();
  if (searching()) filters.q = state.q;
  if (state.tag) filters.tag = state.tag;
  return filters;
}

function searching() {
  return /[\p{L}\p{N}]/u.test(state.q);
}

export function narrowed() {
  return searching() || Boolean(state.tag);
}

// "“apple” and #shop": what narrows the scope, for the counter and the bulk actions' labels.
export function scopeText() {
  const parts = [];
  if (searching()) parts.push(`“${state.q}”`);
  if (state.tag) parts.push(`#${state.tag}`);
  return parts.join(" and ");
}

export function viewFilters() {
  const filters = { ...scopeFilters(), sort: state.sort };
  if (state.filter !== "all") filters.completed = state.filter === "completed";
  return filters;
}

// Under a search or a tag, whether a todo the page does not show yet belongs is the server's to
// say (its search folds accents and matches prefixes): only one it `verified` (inScope) is let
// in; the others, a change heard from elsewhere included, wait for the next reload.
export function belongsInView(todo, verified = false) {
  if (state.listId !== null && todo.list_id !== state.listId) return false;
  if (state.filter === "active" && todo.completed) return false;
  if (state.filter === "completed" && !todo.completed) return false;
  if (narrowed() && !verified && !state.entries.has(todo.id)) return false;
  return true;
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

export async function refreshTags() {
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

let tagsTimer = 0;
export function refreshTagsSoon() {
  clearTimeout(tagsTimer);
  tagsTimer = setTimeout(refreshTags, SEARCH_DELAY_MS);
}

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

export function route() {
  const filter = FILTER_ROUTES[location.hash] || "all";
  const changed = filter !== state.filter;
  state.filter = filter;
  showFilter();
  return changed;
}

window.addEventListener("hashchange", () => {
  if (route()) reload();
});

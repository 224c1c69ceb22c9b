// What every part of the app shares: the API client, the page's elements, the state of what it
// shows, the list window, the dialogs, and how it tells the person something (say, failed).
// It imports no other part of the app, so it is evaluated before them all and they may use its
// constants as they load; between themselves the parts import only functions, called later.

import { Api, ApiError } from "./api.js";
import { ConfirmDialog, ConflictDialog } from "./dialogs.js";
import { ListWindow } from "./list_window.js";

export const api = new Api();
export const $ = (selector, root = document) => root.querySelector(selector);

export const SORT_KEY = "todo-api.sort";

export const el = {
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

export const state = {
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

export const listWindow = new ListWindow(
  el.todoList,
  () => state.order,
  (id) => state.entries.get(id).li,
);
export const conflicts = new ConflictDialog($(".conflict"));
export const confirmation = new ConfirmDialog($(".confirm"));

// ---------------------------------------------------------------- status and errors

export function say(message) {
  el.status.textContent = "";
  // A fresh text node, so a screen reader announces a repeated message again.
  requestAnimationFrame(() => {
    el.status.textContent = message;
  });
}

export function failed(error) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return;
  say(`Could not save: ${error.message}`);
  console.warn(error);
}

export function button(className, text) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  return element;
}

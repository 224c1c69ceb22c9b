// The web app: TodoMVC's list view (app-spec.md, its markup and behaviour) over the todo-api
// API, with lists, tags, priority, due dates, notes, search, sort, reordering and cursor pages.
// The server holds the state; the page shows what the server answered. User text is only ever
// set with textContent or as a form value: never parsed as HTML.
//
// This module is the wiring: it starts the app when the person is signed in (lists, todos, the
// live changes) and stops it when they sign out, and it holds the import button, which touches
// lists and todos alike. Each other part is a module of one job (docs/web.md lists them);
// a module that owns controls installs their listeners as it loads.

import { Account } from "./account.js";
import { $, api, el, failed, listWindow, say, state } from "./page.js";
import { route } from "./query.js";
import { reload, write } from "./shown.js";
import { loadLists } from "./lists.js";
import { listen, stopListening } from "./live.js";
import "./editing.js"; // the list's own listeners: TodoMVC's interactions, reordering, details

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

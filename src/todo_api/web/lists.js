// The lists sidebar: the lists, which one is shown (remembered across visits), and making,
// renaming and deleting lists with If-Match, as todos are written.

import { ApiError } from "./api.js";
import { $, api, button, confirmation, conflicts, el, say, state } from "./page.js";
import { reload, write } from "./shown.js";

const LIST_KEY = "todo-api.list";

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

export async function loadLists() {
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

// Live changes (GET /events): changes made elsewhere show without a reload. One EventSource
// while the server allows it, polling the same endpoint when it does not, and what a change
// names is read again and shown, unless the person is editing that todo.

import { ApiError } from "./api.js";
import { api, el, state } from "./page.js";
import { belongsInView, NEWEST_FIRST, refreshTagsSoon } from "./query.js";
import { render } from "./items.js";
import { drop, noteOrder, place, refreshCounts, reload, show } from "./shown.js";
import { detailsOf } from "./details.js";
import { loadLists } from "./lists.js";

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

export function listen() {
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

export function stopListening() {
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

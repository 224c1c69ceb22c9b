// The todo-api HTTP API as the page uses it: JSON in and out, problem documents as ApiError,
// ETags for If-Match, Idempotency-Key on creates, the CSRF token of a cookie session, and the
// Link header of cursor pages. Every URL is relative to the page, so the app works under a
// path prefix too.

const CSRF_STORAGE_KEY = "todo-api.csrf-token";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const MERGE_PATCH = "application/merge-patch+json";
const CREATE_ATTEMPTS = 3;
export const PAGE_SIZE = 100;

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// 1-255 printable characters; random without crypto.randomUUID, which plain-http pages on a
// LAN address (not a secure context) do not have.
export function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function nextLink(response) {
  const link = response.headers.get("Link");
  const match = link && /<([^>]*)>\s*;\s*rel="next"/.exec(link);
  return match ? match[1] : null;
}

function query(filters) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(name, String(item));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

export class Api {
  constructor() {
    // Called with the error when the server no longer knows who we are (401, or 403 for a
    // session whose CSRF token we lost): the app shows the sign-in screen.
    this.onSignedOut = () => {};
  }

  get csrfToken() {
    return localStorage.getItem(CSRF_STORAGE_KEY);
  }

  set csrfToken(token) {
    if (token) localStorage.setItem(CSRF_STORAGE_KEY, token);
    else localStorage.removeItem(CSRF_STORAGE_KEY);
  }

  async request(method, path, { body, headers = {}, contentType = "application/json" } = {}) {
    // no-store: the page compares versions itself (If-Match). A revalidated copy from the HTTP
    // cache can be another todo's: on SQLite a deleted todo's id is given to the next one, and
    // both start at version 1, so the ETag matches and the old body comes back with a 304.
    const init = { method, cache: "no-store", headers: { Accept: "application/json", ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" || body instanceof Blob ? body : JSON.stringify(body);
      init.headers["Content-Type"] = contentType;
    }
    if (!SAFE_METHODS.has(method) && this.csrfToken) init.headers["X-CSRF-Token"] = this.csrfToken;
    const response = await fetch(new URL(path, document.baseURI), init);
    if (response.ok || response.status === 304) return response;
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      // not a problem document: the status says enough
    }
    const error = new ApiError(response.status, problem);
    if (response.status === 401 || (response.status === 403 && /CSRF/.test(error.message))) {
      this.onSignedOut(error);
    }
    throw error;
  }

  async json(method, path, options) {
    const response = await this.request(method, path, options);
    return response.status === 204 ? null : response.json();
  }

  // A POST that may be retried without making two: the same key on every attempt.
  async create(path, body, options = {}) {
    const headers = { "Idempotency-Key": idempotencyKey() };
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.request("POST", path, { ...options, body, headers });
        return { item: await response.json(), etag: response.headers.get("ETag") };
      } catch (error) {
        const retriable = !(error instanceof ApiError) || error.status === 503 || error.status === 409;
        if (!retriable || attempt >= CREATE_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }

  // ---- todos
  async todoPage(filters, url = null) {
    const response = await this.request("GET", url || `todos${query({ limit: PAGE_SIZE, ...filters })}`);
    return { todos: await response.json(), next: nextLink(response) };
  }

  async countTodos(filters) {
    return (await this.json("GET", `todo-count${query(filters)}`)).count;
  }

  async getTodo(id) {
    const response = await this.request("GET", `todos/${id}`);
    return { item: await response.json(), etag: response.headers.get("ETag") };
  }

  createTodo(fields) {
    return this.create("todos", fields);
  }

  async patchTodo(id, changes, etag) {
    const headers = etag ? { "If-Match": etag } : {};
    const response = await this.request("PATCH", `todos/${id}`, { body: changes, headers, contentType: MERGE_PATCH });
    return { item: await response.json(), etag: response.headers.get("ETag") };
  }

  deleteTodo(id, etag) {
    return this.request("DELETE", `todos/${id}`, { headers: etag ? { "If-Match": etag } : {} });
  }

  patchTodos(filters, changes) {
    return this.json("PATCH", `todos${query(filters)}`, { body: changes, contentType: MERGE_PATCH });
  }

  deleteTodos(filters) {
    return this.json("DELETE", `todos${query(filters)}`);
  }

  tags() {
    return this.json("GET", "tags");
  }

  // ---- lists
  lists() {
    return this.json("GET", "lists");
  }

  async getList(id) {
    const response = await this.request("GET", `lists/${id}`);
    return { item: await response.json(), etag: response.headers.get("ETag") };
  }

  createList(name, order) {
    return this.create("lists", { name, order });
  }

  async patchList(id, changes, etag) {
    const headers = etag ? { "If-Match": etag } : {};
    const response = await this.request("PATCH", `lists/${id}`, { body: changes, headers, contentType: MERGE_PATCH });
    return { item: await response.json(), etag: response.headers.get("ETag") };
  }

  deleteList(id, etag) {
    return this.request("DELETE", `lists/${id}`, { headers: etag ? { "If-Match": etag } : {} });
  }

  // ---- import
  async importFile(file) {
    const calendar = /\.ics$/i.test(file.name) || file.type === "text/calendar";
    const { item } = await this.create("import", await file.text(), {
      contentType: calendar ? "text/calendar" : "application/json",
    });
    return item;
  }

  // ---- accounts (issue 10): users, browser sessions, /me
  me() {
    return this.json("GET", "me");
  }

  async signIn(username, password) {
    const session = await this.json("POST", "session", { body: { username, password } });
    this.csrfToken = session.csrf_token;
    return session;
  }

  signUp(username, password) {
    return this.json("POST", "users", { body: { username, password } });
  }

  async signOut() {
    try {
      await this.request("DELETE", "session");
    } finally {
      this.csrfToken = null;
    }
  }

  changePassword(currentPassword, newPassword, revokeOthers) {
    return this.json("PATCH", "me", {
      body: {
        current_password: currentPassword,
        new_password: newPassword,
        revoke_other_credentials: revokeOthers,
      },
    });
  }
}

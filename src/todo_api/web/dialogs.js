// The page's two questions, as modal <dialog>s (focus stays inside; Escape cancels): a
// concurrent edit (keep mine or take the newer version) and a confirmation before deleting.

const FIELD_NAMES = {
  name: "Name", title: "Title", description: "Notes", completed: "Completed", order: "Position",
  list_id: "List", tags: "Tags", priority: "Priority", due_date: "Due date", due_at: "Due at",
};

function shown(value) {
  if (value === null || value === undefined || value === "") return "—";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

function cell(text, header = false) {
  const element = document.createElement(header ? "th" : "td");
  if (header) element.scope = "row";
  element.textContent = text;
  return element;
}

export class ConflictDialog {
  constructor(dialog) {
    this.dialog = dialog;
  }

  // Resolves true to keep mine (`changes`), false to take `newer`. `what` names the thing in
  // the heading: "todo" or "list" (a list's rows are its name).
  ask(seen, changes, newer, what = "todo") {
    this.dialog.querySelector("#conflict-title").textContent = `This ${what} changed meanwhile`;
    const rows = [];
    const fields = new Set(Object.keys(changes));
    for (const field of Object.keys(FIELD_NAMES)) {
      if (field !== "order" && JSON.stringify(seen[field]) !== JSON.stringify(newer[field])) fields.add(field);
    }
    for (const field of fields) {
      if (!(field in FIELD_NAMES)) continue;
      const mine = field in changes ? changes[field] : seen[field];
      const row = document.createElement("tr");
      row.dataset.field = field;
      row.append(cell(FIELD_NAMES[field], true), cell(shown(mine)), cell(shown(newer[field])));
      rows.push(row);
    }
    this.dialog.querySelector("tbody").replaceChildren(...rows);
    const keep = this.dialog.querySelector(".keep-mine");
    const take = this.dialog.querySelector(".take-theirs");
    const opener = document.activeElement;
    return new Promise((resolve) => {
      const settle = (keepMine) => {
        keep.removeEventListener("click", onKeep);
        take.removeEventListener("click", onTake);
        this.dialog.removeEventListener("cancel", onCancel);
        this.dialog.close();
        if (opener && opener.isConnected) opener.focus();
        resolve(keepMine);
      };
      const onKeep = () => settle(true);
      const onTake = () => settle(false);
      const onCancel = (event) => {
        event.preventDefault();
        settle(false);
      };
      keep.addEventListener("click", onKeep);
      take.addEventListener("click", onTake);
      this.dialog.addEventListener("cancel", onCancel);
      this.dialog.showModal();
      take.focus();
    });
  }
}

export class ConfirmDialog {
  constructor(dialog) {
    this.dialog = dialog;
  }

  // Resolves true when the person confirms.
  ask(question) {
    this.dialog.querySelector("#confirm-text").textContent = question;
    const yes = this.dialog.querySelector(".confirm-yes");
    const no = this.dialog.querySelector(".confirm-no");
    return new Promise((resolve) => {
      const settle = (answer) => {
        yes.removeEventListener("click", onYes);
        no.removeEventListener("click", onNo);
        this.dialog.removeEventListener("cancel", onCancel);
        this.dialog.close();
        resolve(answer);
      };
      const onYes = () => settle(true);
      const onNo = () => settle(false);
      const onCancel = (event) => {
        event.preventDefault();
        settle(false);
      };
      yes.addEventListener("click", onYes);
      no.addEventListener("click", onNo);
      this.dialog.addEventListener("cancel", onCancel);
      this.dialog.showModal();
      no.focus();
    });
  }
}

// Due dates and moments as the page shows and edits them. An all-day `due_date` is due at the
// end of that day in UTC (as the API counts it: overdue from 00:00 UTC the next day); a
// `due_at` is a moment, shown in the browser's time zone and sent with its UTC offset.

const DAY_MS = 24 * 60 * 60 * 1000;
const dateFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC",
});
const momentFormat = new Intl.DateTimeFormat(undefined, {
  weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit",
});

export function dueMoment(todo) {
  if (todo.due_at) return Date.parse(todo.due_at);
  if (todo.due_date) return Date.parse(`${todo.due_date}T00:00:00Z`) + DAY_MS;
  return null;
}

export function isOverdue(todo, now = Date.now()) {
  const due = dueMoment(todo);
  return due !== null && !todo.completed && now >= due;
}

export function dueText(todo) {
  if (todo.due_at) return momentFormat.format(new Date(todo.due_at));
  if (todo.due_date) return dateFormat.format(new Date(`${todo.due_date}T00:00:00Z`));
  return "";
}

const pad = (number) => String(number).padStart(2, "0");

// The values of the date and time inputs for a todo (local time for a due_at).
export function dueInputs(todo) {
  if (todo.due_at) {
    const moment = new Date(todo.due_at);
    return {
      date: `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}`,
      time: `${pad(moment.getHours())}:${pad(moment.getMinutes())}`,
    };
  }
  return { date: todo.due_date || "", time: "" };
}

// The API fields for what the inputs hold: a date alone is all-day, a date and a time a moment
// with this browser's offset at that moment.
export function dueFields(date, time) {
  if (!date) return { due_date: null, due_at: null };
  if (!time) return { due_date: date, due_at: null };
  const local = new Date(`${date}T${time}:00`);
  const offset = -local.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const hours = pad(Math.floor(Math.abs(offset) / 60));
  const minutes = pad(Math.abs(offset) % 60);
  return { due_date: null, due_at: `${date}T${time}:00${sign}${hours}:${minutes}` };
}

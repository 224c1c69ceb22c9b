// Keeps a long list cheap: at most about WINDOW items are in the DOM, the ones around the
// viewport; the items above and below are taken out, and the list's padding stands in for
// their height. With 10,000 items in the DOM every change costs Chromium ~60 ms a frame (it
// walks them all); with a window, a frame costs the same at 10,000 items as at 100.
//
// `order()` gives every loaded id top to bottom; `itemOf(id)` its <li>. The DOM holds
// order()[start, end). Short lists (TodoMVC's own) never reach WINDOW and stay whole.

const WINDOW = 300;
const CHUNK = 50;
const DEFAULT_HEIGHT = 56;

export class ListWindow {
  constructor(list, order, itemOf) {
    this.list = list;
    this.order = order;
    this.itemOf = itemOf;
    this.heights = new Map(); // id -> measured height of an item taken out
    this.reset();
    let scheduled = false;
    window.addEventListener(
      "scroll",
      () => {
        if (scheduled) return;
        scheduled = true;
        requestAnimationFrame(() => {
          scheduled = false;
          this.adjust();
        });
      },
      { passive: true },
    );
  }

  reset() {
    this.start = 0;
    this.end = 0;
    this.above = 0; // px of the items before `start`
    this.below = 0; // px of the items from `end` on
    this.heights.clear();
    this.list.replaceChildren();
    this.pad();
  }

  get rendered() {
    return this.end - this.start;
  }

  // New ids were pushed at the end of order(): shown when the window reaches the end.
  appended(count) {
    const ids = this.order();
    const from = ids.length - count;
    if (this.end === from) {
      const fragment = document.createDocumentFragment();
      for (const id of ids.slice(from)) fragment.append(this.itemOf(id));
      this.list.append(fragment);
      this.end = ids.length;
    } else {
      this.below += count * this.averageHeight();
    }
    this.adjust();
  }

  // `id` now stands at `index` of order() (it was not there before).
  inserted(id, index) {
    if (index < this.start) {
      this.start++;
      this.end++;
      this.above += this.heightOf(id);
    } else if (index > this.end) {
      this.below += this.heightOf(id);
    } else {
      const following = index < this.end ? this.itemOf(this.order()[index + 1]) : null;
      this.list.insertBefore(this.itemOf(id), following);
      this.end++;
    }
    this.pad();
  }

  // `id` stood at `index` of order() and has been taken out of it.
  removed(id, index, item) {
    if (index < this.start) {
      this.start--;
      this.end--;
      this.above -= this.heightOf(id);
    } else if (index >= this.end) {
      this.below -= this.heightOf(id);
    } else {
      item.remove();
      this.end--;
    }
    this.heights.delete(id);
    this.pad();
  }

  adjust() {
    if (this.rendered === 0) return;
    const ids = this.order();
    const view = window.innerHeight;
    const top = this.itemOf(ids[this.start]).getBoundingClientRect().top;
    const bottom = this.itemOf(ids[this.end - 1]).getBoundingClientRect().bottom;
    if (bottom < -view || top > 2 * view) {
      // Scrolled far past the window (a jump, Home, End, the scroll bar): rebuild it where the
      // viewport is, rather than walking there a chunk at a time.
      this.jump();
      requestAnimationFrame(() => this.adjust());
      return;
    }
    let changed = false;
    if (this.start > 0 && top > -view) changed = this.restoreAbove();
    else if (this.rendered > WINDOW && top < -3 * view) changed = this.trimAbove();
    if (this.end < ids.length && bottom < 2 * view) changed = this.restoreBelow() || changed;
    // The end of what is loaded stays: the next page is asked for when it comes into view.
    else if (this.rendered > WINDOW && bottom > 4 * view && this.end < ids.length) {
      changed = this.trimBelow() || changed;
    }
    if (changed) requestAnimationFrame(() => this.adjust());
  }

  jump() {
    const ids = this.order();
    const average = this.averageHeight();
    const into = -this.list.getBoundingClientRect().top; // px of the list above the viewport
    const index = Math.min(ids.length - 1, Math.max(0, Math.floor(into / average)));
    for (const id of ids.slice(this.start, this.end)) this.itemOf(id).remove();
    this.start = Math.max(0, index - CHUNK);
    this.end = Math.min(ids.length, this.start + 3 * CHUNK);
    const fragment = document.createDocumentFragment();
    for (const id of ids.slice(this.start, this.end)) fragment.append(this.itemOf(id));
    this.list.append(fragment);
    this.above = 0;
    for (const id of ids.slice(0, this.start)) this.above += this.heightOf(id);
    this.below = 0;
    for (const id of ids.slice(this.end)) this.below += this.heightOf(id);
    this.pad();
  }

  trimAbove() {
    const ids = this.order().slice(this.start, this.start + CHUNK);
    for (const id of ids) {
      const item = this.itemOf(id);
      const height = item.offsetHeight;
      this.heights.set(id, height);
      this.above += height;
    }
    for (const id of ids) this.itemOf(id).remove();
    this.start += ids.length;
    this.pad();
    return true;
  }

  trimBelow() {
    const ids = this.order().slice(Math.max(this.start, this.end - CHUNK), this.end);
    for (const id of ids) {
      const item = this.itemOf(id);
      const height = item.offsetHeight;
      this.heights.set(id, height);
      this.below += height;
    }
    for (const id of ids) this.itemOf(id).remove();
    this.end -= ids.length;
    this.pad();
    return true;
  }

  restoreAbove() {
    const from = Math.max(0, this.start - CHUNK);
    const ids = this.order().slice(from, this.start);
    const fragment = document.createDocumentFragment();
    for (const id of ids) {
      this.above -= this.heightOf(id);
      fragment.append(this.itemOf(id));
    }
    this.list.prepend(fragment);
    this.start = from;
    if (this.start === 0) this.above = 0;
    this.pad();
    return true;
  }

  restoreBelow() {
    const to = Math.min(this.order().length, this.end + CHUNK);
    const ids = this.order().slice(this.end, to);
    const fragment = document.createDocumentFragment();
    for (const id of ids) {
      this.below -= this.heightOf(id);
      fragment.append(this.itemOf(id));
    }
    this.list.append(fragment);
    this.end = to;
    if (this.end === this.order().length) this.below = 0;
    this.pad();
    return true;
  }

  heightOf(id) {
    return this.heights.get(id) ?? this.averageHeight();
  }

  averageHeight() {
    if (this.rendered === 0) return DEFAULT_HEIGHT;
    return Math.max(1, this.list.scrollHeight - this.above - this.below) / this.rendered;
  }

  // Set through the CSSOM, which the Content-Security-Policy allows (it forbids style
  // attributes in markup, not script setting a property).
  pad() {
    this.above = Math.max(0, this.above);
    this.below = Math.max(0, this.below);
    this.list.style.paddingTop = `${Math.round(this.above)}px`;
    this.list.style.paddingBottom = `${Math.round(this.below)}px`;
    this.list.dataset.rendered = String(this.rendered);
  }
}

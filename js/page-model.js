// The stand-in for the kernel's widget model in a standalone page: an anywidget-style `model`
// (get, set, save_changes, on, off, send) over a plain state object. What a view saves and
// what it sends go to the page (`hooks`), which answers from the data it embeds.

/**
 * @param {Object<string, any>} state the synced traits, changed in place
 * @param {{saved?: (names: string[]) => void, answer?: (msg: any) => any}} hooks
 *   `saved`: the names a view set and saved; `answer`: the reply to a message a view sent
 *   (delivered as "msg:custom" in a microtask, as a kernel's reply comes later)
 */
export function createModel(state, hooks = {}) {
  const listeners = new Map();
  const dirty = new Set();
  const emit = (event, ...args) => {
    for (const cb of [...(listeners.get(event) || [])]) {
      try { cb(...args); } catch (e) { console.error(e); }
    }
  };
  const model = {
    get: (name) => state[name],
    // set(name, value), or set({name: value, ...}) as a Backbone model (ipywidgets') takes it
    set: (name, value) => {
      const entries = name !== null && typeof name === "object" ? Object.entries(name) : [[name, value]];
      for (const [n, v] of entries) { state[n] = v; dirty.add(n); }
    },
    save_changes: () => {
      const names = [...dirty];
      dirty.clear();
      for (const n of names) emit(`change:${n}`, model, state[n]);
      if (names.length) emit("change", model);
      if (names.length && hooks.saved) hooks.saved(names);
    },
    on: (events, cb) => {
      for (const ev of String(events).split(/\s+/).filter(Boolean)) {
        if (!listeners.has(ev)) listeners.set(ev, []);
        listeners.get(ev).push(cb);
      }
    },
    off: (events, cb) => {
      if (!events) { listeners.clear(); return; }
      for (const ev of String(events).split(/\s+/).filter(Boolean)) {
        if (!cb) listeners.delete(ev);
        else listeners.set(ev, (listeners.get(ev) || []).filter((f) => f !== cb));
      }
    },
    send: (content) => {
      const reply = hooks.answer ? hooks.answer(content || {}) : { type: "error", message: "nothing answers here" };
      Promise.resolve(reply).then((r) => queueMicrotask(() => emit("msg:custom", r, [])));
    },
  };
  /**
   * Put new values into the state and tell the view, once per trait that changed.
   * @param {Array<[string, any]>} entries
   * @returns {string[]} the names that changed
   */
  const put = (entries) => {
    const changed = [];
    for (const [name, value] of entries) {
      if (state[name] !== value) { state[name] = value; changed.push(name); }
    }
    for (const n of changed) emit(`change:${n}`, model, state[n]);
    if (changed.length) emit("change", model);
    return changed;
  };
  return { model, put, emit, state };
}

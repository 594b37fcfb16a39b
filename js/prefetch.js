// Frames held in the page: what a matrix view (js/matrix.js) draws at once when a change made
// in the page (a linked control, a thumbnail click, a key) asks for a selection it already has.
//
// After the frame it shows, the kernel sends the frames a user is likely to ask for next (the
// other heads of the layer, "mean", the neighbouring steps: attnwidget/widgets/_prefetch.py), one
// custom message each: {type: "held", key, meta, labels_key, labels?} and one buffer of uint8 codes.
// The frame shown (`_frame`, with `_frame_key`: its key and labels key) is held too. A frame's key
// is the list the kernel sent: the capture's epoch, then the values of the view's key traits (its selection, colour range,
// scale, zoom region, size, significance: `_held.traits` names them, in order). The page's key for
// the selection it shows now is the same list read from its own model, so a held frame is drawn
// only when every one of those traits says so; the colormap is not in it (codes are colormap-free).
//
// The store keeps at most `budget` bytes of codes (16 MiB, `_held.budget`), dropping the oldest
// first, and the kernel keeps the same ledger, so it never sends again what the page holds. Both
// sides change their ledger only on the messages they exchange, in the same order: the frame shown
// and each held frame are put (moved to newest), and a new store tells the kernel it holds nothing
// but the frame shown ({type: "held", what: "reset"}).
//
// `pageMove` says where an arrow key moves the selection when the page can move it itself (heads
// and steps: `_frame_key.heads`, `_frame_key.steps`), so a key press can be a change made in the page.
// `headAt` maps an explorer's head dropdown index (linked in the page to a heatmap's `_head_index`)
// to the head it names, so a pick there is a change made in the page too (js/heatmap.js).

/** Bytes of codes a view holds, unless the kernel says otherwise (attnwidget/widgets/_prefetch.py PAGE_BUDGET). */
export const PAGE_BUDGET = 16 * 1024 * 1024;
/** Label sets a view holds (attnwidget/widgets/_prefetch.py LABELS_HELD). */
export const LABELS_HELD = 16;

/** The heads that reduce over heads, first in the head order (attnwidget/widgets/_prefetch.py REDUCED_HEADS). */
export const REDUCED_HEADS = ["mean", "max"];

/**
 * The head a head dropdown's index names: 0 -> "mean", 1 -> "max", i + 2 -> head i
 * (attnwidget/widgets/_prefetch.py head_at); null for what is no index (a dropdown with nothing picked).
 * @param {unknown} index
 * @returns {string | number | null}
 */
export function headAt(index) {
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0) return null;
  return index < REDUCED_HEADS.length ? REDUCED_HEADS[index] : index - REDUCED_HEADS.length;
}

/**
 * The head dropdown's index of a head (headAt inverted), or null for what is no head.
 * @param {unknown} head
 * @returns {number | null}
 */
export function headIndex(head) {
  if (typeof head === "string") {
    const at = REDUCED_HEADS.indexOf(head);
    return at < 0 ? null : at;
  }
  return typeof head === "number" && Number.isInteger(head) && head >= 0 ? head + REDUCED_HEADS.length : null;
}

/**
 * Whether an event is a person's pick in a page control (a `<select>` changed): the head dropdown's
 * index also changes when the kernel sets it (and, for a moment, when its options change), and
 * only a pick made in the page is the page's to apply.
 * @param {any} event the event being dispatched (`globalThis.event`), if any
 * @returns {boolean}
 */
export function pickedInPage(event) {
  if (!event || (event.type !== "change" && event.type !== "input")) return false;
  const target = event.target;
  return !!target && typeof target.tagName === "string" && target.tagName.toUpperCase() === "SELECT";
}

/**
 * The string a key list is held under (the same list gives the same string).
 * @param {any[]} key
 * @returns {string}
 */
export function keyText(key) {
  return JSON.stringify(key);
}

/**
 * The key of what the model's traits select now, in the epoch of the kernel's last frame.
 * @param {{get: (name: string) => any}} model
 * @param {string[]} traits the view's key traits, in the kernel's order (`_held.traits`)
 * @param {any} epoch
 * @returns {string}
 */
export function wantedKey(model, traits, epoch) {
  return keyText([epoch, ...traits.map((name) => {
    const v = model.get(name);
    return v === undefined ? null : v;
  })]);
}

/**
 * A store of held frames with a budget of codes, oldest dropped first.
 * Entries: {key, codes: Uint8Array, meta, labels: {rows, cols} | null, bytes}.
 * @param {number} [budget]
 * @param {number} [labelSets]
 */
export function heldFrames(budget = PAGE_BUDGET, labelSets = LABELS_HELD) {
  /** @type {Map<string, any>} */
  const frames = new Map();
  /** @type {Map<string, {rows: string[], cols: string[]}>} */
  const labels = new Map();
  let bytes = 0;
  const counts = { hits: 0, misses: 0 };

  /** Put a label set under its key (moved to newest); returns the labels held under it, or null. */
  function putLabels(labelsKey, given) {
    if (typeof labelsKey !== "string") return null;
    const had = labels.get(labelsKey);
    const set = given || had || null;
    if (!set) return null; // the kernel thought we held them: the frame is kept without labels (a miss)
    labels.delete(labelsKey);
    labels.set(labelsKey, set);
    while (labels.size > labelSets) labels.delete(labels.keys().next().value);
    return set;
  }

  return {
    counts,
    /** The `_frame_version` of the kernel's frame held last (set by the view). */
    shownVersion: null,
    /** Bytes of codes held. */
    bytes: () => bytes,
    /** Frames held. */
    size: () => frames.size,
    /** The keys held, oldest first. */
    keys: () => [...frames.keys()],
    /** The budget this store keeps to. */
    budget: () => budget,
    /** Set the budget (the kernel's), dropping what no longer fits. */
    setBudget(next) {
      if (typeof next === "number" && next > 0 && next !== budget) {
        budget = next;
        this.trim();
      }
    },
    /**
     * Hold a frame (moved to newest when held already), then drop the oldest beyond the budget;
     * the newest is kept even when it alone is over it.
     * @param {any[]} key the kernel's key list
     * @param {Uint8Array} codes
     * @param {any} meta its header (what `_frame_meta` would be)
     * @param {string} labelsKey
     * @param {{rows: string[], cols: string[]} | null | undefined} given its labels, when sent with it
     */
    put(key, codes, meta, labelsKey, given) {
      const text = keyText(key);
      const old = frames.get(text);
      if (old) {
        bytes -= old.bytes;
        frames.delete(text);
      }
      const entry = { key: text, codes, meta, labels: putLabels(labelsKey, given), bytes: codes.length };
      frames.set(text, entry);
      bytes += entry.bytes;
      this.trim();
      return entry;
    },
    trim() {
      while (bytes > budget && frames.size > 1) {
        const [oldest, entry] = frames.entries().next().value;
        frames.delete(oldest);
        bytes -= entry.bytes;
      }
    },
    /**
     * The held frame for a key string, or null (a frame held without its labels is no use).
     * @param {string} text
     */
    get(text) {
      const entry = frames.get(text);
      return entry && entry.labels ? entry : null;
    },
    /** Whether a key string is held (with or without labels). */
    has: (text) => frames.has(text),
    /** Forget everything (the kernel is told so by the caller). */
    clear() {
      frames.clear();
      labels.clear();
      bytes = 0;
    },
  };
}

/**
 * The selection an arrow key moves to, set in the page ({trait, value}), or null where the kernel
 * must move it (a layer: the sites a view walks are the kernel's to say) or nothing moves (an end).
 * Heads walk `mean, max, 0, 1, ...` and steps `0..steps-1`, stopping at either end, as the kernel's
 * move does (attnwidget/widgets/_browser.py `_msg_move`); `_frame_key` says how many there are.
 * @param {{get: (name: string) => any}} model
 * @param {{what: "layer"|"head"|"step", by: 1|-1}} move (js/toolbar.js moveFor)
 * @returns {{trait: "head"|"step", value: any} | null}
 */
export function pageMove(model, move) {
  const shown = model.get("_frame_key");
  if (!shown || !move) return null;
  if (move.what === "head") {
    const heads = shown.heads;
    if (typeof heads !== "number" || heads < 1) return null;
    const order = [...REDUCED_HEADS, ...Array.from({ length: heads }, (_, h) => h)];
    const at = order.indexOf(model.get("head"));
    const to = Math.min(Math.max(at + move.by, 0), order.length - 1);
    return at < 0 || to === at ? null : { trait: "head", value: order[to] };
  }
  if (move.what === "step") {
    const steps = shown.steps;
    const at = model.get("step");
    if (typeof steps !== "number" || typeof at !== "number") return null;
    const to = Math.min(Math.max(at + move.by, 0), steps - 1);
    return to === at ? null : { trait: "step", value: to };
  }
  return null;
}

/**
 * Which frame a matrix view draws now.
 *
 * The kernel's frame (`_frame`, its key in `_frame_key`) when the model's selection is what it
 * was computed for, or a frame without a key (a standalone page, an error); else the held frame
 * of the model's selection; else null: the selection changed in the page and nothing held is for
 * it, so the view keeps what it draws until the kernel's answer comes.
 * @param {{get: (name: string) => any}} model
 * @param {ReturnType<typeof heldFrames>} store
 * @returns {{source: "kernel", key: string | null} | {source: "held", key: string, entry: any} | null}
 */
export function pickFrame(model, store) {
  const shown = model.get("_frame_key");
  const view = model.get("_held");
  if (!shown || !Array.isArray(shown.key) || !view || !Array.isArray(view.traits)) {
    return { source: "kernel", key: null };
  }
  const kernelKey = keyText(shown.key);
  const want = wantedKey(model, view.traits, shown.key[0]);
  if (want === kernelKey) return { source: "kernel", key: kernelKey };
  const entry = store.get(want);
  return entry ? { source: "held", key: want, entry } : null;
}

// Repaint scheduling (js/ui.js drawScheduler): draw at once when quiet, at
// most once per animation frame in a burst, and one draw per model update.
import { describe, expect, it } from "vitest";
import { drawScheduler } from "../../js/ui.js";

/** Manual timers: run microtasks and animation frames when the test says. */
function timers() {
  const micro = [];
  const frames = [];
  return {
    micro: (f) => micro.push(f),
    frame: (f) => frames.push(f),
    flushMicro() { while (micro.length) micro.shift()(); },
    nextFrame() { const due = frames.splice(0); for (const f of due) f(); },
    pendingFrames: () => frames.length,
  };
}

describe("drawScheduler", () => {
  it("draws the first request in a microtask, without waiting for a frame", () => {
    const t = timers();
    let draws = 0;
    const request = drawScheduler(() => { draws += 1; }, t);
    request();
    expect(draws).toBe(0); // not inside the change handler: the other changes of the update land first
    t.flushMicro();
    expect(draws).toBe(1);
    expect(request.state()).toBe("drawn");
  });

  it("gives one draw for the several change events of one update", () => {
    const t = timers();
    let draws = 0;
    const request = drawScheduler(() => { draws += 1; }, t);
    request(); request(); request(); // change:_frame, change:_frame_meta, change:_labels
    t.flushMicro();
    expect(draws).toBe(1);
  });

  it("coalesces requests after a draw into one draw at the next frame", () => {
    const t = timers();
    let draws = 0;
    const request = drawScheduler(() => { draws += 1; }, t);
    request();
    t.flushMicro();
    request(); request(); request();
    t.flushMicro();
    expect(draws).toBe(1);
    expect(request.state()).toBe("queued");
    t.nextFrame();
    expect(draws).toBe(2);
    request(); // still within a frame that drew: waits for the next one
    t.flushMicro();
    expect(draws).toBe(2);
    t.nextFrame();
    expect(draws).toBe(3);
  });

  it("is quiet again after a frame without requests, and the next request draws at once", () => {
    const t = timers();
    let draws = 0;
    const request = drawScheduler(() => { draws += 1; }, t);
    request();
    t.flushMicro();
    t.nextFrame();
    expect(request.state()).toBe("idle");
    expect(t.pendingFrames()).toBe(0);
    request();
    t.flushMicro();
    expect(draws).toBe(2);
  });

  it("keeps working after a repaint throws", () => {
    const t = timers();
    let draws = 0;
    const request = drawScheduler(() => { draws += 1; if (draws === 1) throw new Error("boom"); }, t);
    request();
    expect(() => t.flushMicro()).toThrow("boom");
    t.nextFrame();
    request();
    t.flushMicro();
    expect(draws).toBe(2);
  });

  it("sees the latest state: a draw reads values set after the request", () => {
    const t = timers();
    const model = { v: 0 };
    const seen = [];
    const request = drawScheduler(() => seen.push(model.v), t);
    model.v = 1; request();
    model.v = 2; request();
    t.flushMicro();
    expect(seen).toEqual([2]);
  });

  it("runs with the real queueMicrotask by default", async () => {
    let draws = 0;
    const request = drawScheduler(() => { draws += 1; }, { frame: () => {} });
    request(); request();
    await Promise.resolve();
    expect(draws).toBe(1);
  });
});

// The outline of marked cells on a matrix: the significant cells of a class-difference
// map (the kernel sends them as `_frame_meta.outline`, see attnwidget/_view_state.py
// significance_state). Drawn as the cell edges between a marked cell and an unmarked one
// (or the border), so a group of marked cells gets one line around it and its colours stay
// visible, as the exported figure draws it (attnwidget/analysis/_figure.py outline_cells).

/**
 * Bits packed as numpy.packbits packs them (row-major, most significant bit first), from base64.
 * @param {string} text base64
 * @param {number} count cells
 * @returns {Uint8Array} one 0/1 per cell
 */
export function unpackBits(text, count) {
  const bin = atob(text);
  if (bin.length * 8 < count) throw new Error(`the outline holds ${bin.length * 8} cells, not ${count}`);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = (bin.charCodeAt(i >> 3) >> (7 - (i & 7))) & 1;
  return out;
}

/**
 * The edges around marked cells, in cell units: `[x0, y0, x1, y1]` with x across (columns) and
 * y down (rows); runs of edges along one line are joined into one segment.
 * @param {Uint8Array} bits one 0/1 per cell, row-major
 * @param {number} rows
 * @param {number} cols
 * @returns {number[][]}
 */
export function outlineEdges(bits, rows, cols) {
  const at = (r, c) => (r >= 0 && r < rows && c >= 0 && c < cols ? bits[r * cols + c] : 0);
  const segments = [];
  // horizontal edges: the line y = r between rows r - 1 and r
  for (let r = 0; r <= rows; r++) {
    let start = -1;
    for (let c = 0; c <= cols; c++) {
      const edge = c < cols && at(r - 1, c) !== at(r, c);
      if (edge && start < 0) start = c;
      if (!edge && start >= 0) {
        segments.push([start, r, c, r]);
        start = -1;
      }
    }
  }
  // vertical edges: the line x = c between columns c - 1 and c
  for (let c = 0; c <= cols; c++) {
    let start = -1;
    for (let r = 0; r <= rows; r++) {
      const edge = r < rows && at(r, c - 1) !== at(r, c);
      if (edge && start < 0) start = r;
      if (!edge && start >= 0) {
        segments.push([c, start, c, r]);
        start = -1;
      }
    }
  }
  return segments;
}

/**
 * Stroke the edges over a matrix drawn at `layout` ({x, y, cellW, cellH}): a light line under a
 * dark one, readable on either end of a diverging colormap.
 * @param {CanvasRenderingContext2D} ctx
 * @param {number[][]} segments from {@link outlineEdges}
 * @param {{x: number, y: number, cellW: number, cellH: number}} layout
 */
export function strokeOutline(ctx, segments, layout) {
  if (!segments.length) return;
  ctx.beginPath();
  for (const [x0, y0, x1, y1] of segments) {
    ctx.moveTo(layout.x + x0 * layout.cellW, layout.y + y0 * layout.cellH);
    ctx.lineTo(layout.x + x1 * layout.cellW, layout.y + y1 * layout.cellH);
  }
  ctx.lineCap = "square";
  ctx.strokeStyle = "rgba(255,255,255,0.9)";
  ctx.lineWidth = 2.5;
  ctx.stroke();
  ctx.strokeStyle = "#111";
  ctx.lineWidth = 1.2;
  ctx.stroke();
}

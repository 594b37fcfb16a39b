// Where the head grid's thumbnails go, and their pixels: every thumbnail is drawn into ONE
// canvas (a page composites one canvas in well under a millisecond; 144 small canvases, a
// 12 x 12 model grid, cost it 50-60 ms), enlarged nearest-neighbour so each cell of a
// thumbnail is a sharp block of whole device pixels. Pure: no DOM, vitest runs it in node.

export const PANEL = 326; // CSS pixels across the grid
export const GAP = 4; // between places, CSS pixels
export const BORDER = 2; // the selection outline around a thumbnail
export const LABEL = 13; // a caption's line under a thumbnail
const MOST = 76; // largest thumbnail side, CSS pixels
const LEAST = 14; // smallest; below LABELLED a thumbnail has no caption (its tooltip names it)
const LABELLED = 30;
const MOST_PIXELS = 16e6; // the canvas's backing store, at most (64 MB of RGBA)

/**
 * Columns and thumbnail side for `count` thumbnails of `heads` per layer in a panel `width` wide.
 * One layer: a near-square grid; several: one row per layer.
 * @param {number} count thumbnails
 * @param {number} heads thumbnails per layer
 * @param {boolean} many more than one layer
 * @param {number} [width]
 * @returns {{columns: number, side: number}}
 */
export function gridFit(count, heads, many, width = PANEL) {
  // one layer: up to 4 in a row, then a near-square grid (12 heads: 4 x 3)
  const columns = Math.max(1, many ? heads : count <= 4 ? count : Math.ceil(Math.sqrt(count)));
  const side = Math.floor((width - GAP * (columns - 1)) / columns) - 2 * BORDER;
  return { columns, side: Math.max(LEAST, Math.min(MOST, side)) };
}

/**
 * Where every thumbnail goes, in CSS pixels from the grid's top left. Each gets a square place
 * `side + 2 * BORDER` wide (and a caption's line under it when the side is large enough), in
 * rows of `columns`; inside it the thumbnail keeps its matrix's aspect, up to 2.5 : 1 (a 32 x 4
 * cross-attention is a readable strip, its cells taller than wide, not a sliver), centred.
 * @param {{rows: number, cols: number}[]} thumbs
 * @param {number} heads thumbnails per layer
 * @param {boolean} many more than one layer
 * @param {number} [width]
 * @returns {{columns: number, side: number, labelled: boolean, width: number, height: number,
 *   places: {x: number, y: number, size: number}[], rects: {x: number, y: number, w: number, h: number}[]}}
 */
export function gridLayout(thumbs, heads, many, width = PANEL) {
  const { columns, side } = gridFit(thumbs.length, heads, many, width);
  const labelled = side >= LABELLED;
  const size = side + 2 * BORDER;
  const pitchX = size + GAP;
  const pitchY = size + (labelled ? LABEL : 0) + GAP;
  const least = Math.round(side / 2.5);
  const places = [];
  const rects = thumbs.map((t, i) => {
    const x0 = (i % columns) * pitchX;
    const y0 = Math.floor(i / columns) * pitchY;
    places.push({ x: x0, y: y0, size });
    const scale = side / Math.max(t.rows, t.cols, 1);
    const w = Math.min(side, Math.max(least, Math.round(t.cols * scale)));
    const h = Math.min(side, Math.max(least, Math.round(t.rows * scale)));
    return { x: x0 + BORDER + Math.floor((side - w) / 2), y: y0 + BORDER + Math.floor((side - h) / 2), w, h };
  });
  const rowsUsed = Math.ceil(thumbs.length / columns);
  return {
    columns,
    side,
    labelled,
    width: Math.max(0, Math.min(thumbs.length, columns) * pitchX - GAP),
    height: Math.max(0, rowsUsed * pitchY - GAP),
    places,
    rects,
  };
}

/**
 * Device pixels per CSS pixel for the canvas: a whole number, at least the screen's, and enough
 * that every cell of every thumbnail gets a pixel of its own (a 32-cell thumbnail in a 19 px place
 * is drawn at 2x: no cell is dropped), within MOST_PIXELS.
 * @param {{rows: number, cols: number}[]} thumbs
 * @param {{w: number, h: number}[]} rects
 * @param {number} width CSS pixels
 * @param {number} height CSS pixels
 * @param {number} [ratio] the screen's devicePixelRatio
 * @returns {number}
 */
export function backingScale(thumbs, rects, width, height, ratio = 1) {
  let scale = Math.max(1, Math.ceil(ratio || 1));
  thumbs.forEach((t, i) => {
    const r = rects[i];
    scale = Math.max(scale, Math.ceil(t.cols / r.w), Math.ceil(t.rows / r.h));
  });
  while (scale > 1 && width * height * scale * scale > MOST_PIXELS) scale -= 1;
  return scale;
}

/**
 * Draw every thumbnail's codes into one RGBA image, each enlarged nearest-neighbour into its
 * rect (CSS pixels times `scale`): device pixel p of a rect `n` pixels wide shows cell
 * floor(p * cells / n), so cell j starts at pixel ceil(j * n / cells).
 * @param {{rows: number, cols: number, codes: Uint8Array}[]} thumbs
 * @param {{x: number, y: number, w: number, h: number}[]} rects CSS pixels
 * @param {number} scale device pixels per CSS pixel (whole)
 * @param {Uint8Array} lut 768 bytes, RGB per code
 * @param {Uint8ClampedArray} data the image, 4 bytes per pixel, `stride` pixels a row
 * @param {number} stride
 */
export function paintThumbs(thumbs, rects, scale, lut, data, stride) {
  if (lut.length !== 768) throw new Error(`a colour table has 768 bytes (256 RGB), not ${lut.length}`);
  const rows = Math.floor(data.length / 4 / stride);
  thumbs.forEach((t, i) => {
    const r = rects[i];
    const X = r.x * scale;
    const Y = r.y * scale;
    const W = Math.min(r.w * scale, stride - X);
    const H = Math.min(r.h * scale, rows - Y);
    if (W <= 0 || H <= 0 || t.rows === 0 || t.cols === 0) return;
    const source = new Int32Array(W); // the cell of each device column
    for (let p = 0; p < W; p++) source[p] = Math.floor((p * t.cols) / (r.w * scale));
    for (let q = 0; q < H; q++) {
      const row = Math.floor((q * t.rows) / (r.h * scale)) * t.cols;
      let k = ((Y + q) * stride + X) * 4;
      for (let p = 0; p < W; p++, k += 4) {
        const c = t.codes[row + source[p]] * 3;
        data[k] = lut[c];
        data[k + 1] = lut[c + 1];
        data[k + 2] = lut[c + 2];
        data[k + 3] = 255;
      }
    }
  });
}

// Inflate: a synchronous decoder for the zlib streams (RFC 1950 around RFC 1951's
// deflate) the kernel sends a frame's codes in where they compress (attnwidget/wire.py
// deflate_codes). Synchronous so a frame that arrives is decoded and drawn in the
// same task, in the order the frames came (the page's store of held frames keeps the
// kernel's order: js/prefetch.js); the browser's DecompressionStream would answer in
// a later task. The output's length is known (the frame's rows x columns) and
// checked, and so is the stream's Adler-32: a damaged stream is an error, never a
// wrong picture.

const LENGTH_BASE = new Uint16Array([
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
]);
const LENGTH_EXTRA = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]);
const DIST_BASE = new Uint16Array([
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
  8193, 12289, 16385, 24577,
]);
const DIST_EXTRA = new Uint8Array([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]);
// the order a dynamic block lists its code-length code's lengths in
const CLEN_ORDER = new Uint8Array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);

/**
 * A Huffman code as a lookup table: indexed by the next `bits` bits of the stream
 * (first bit lowest), each entry is (symbol << 4) | code length; 0 marks no code.
 * @param {Uint8Array} lengths a code length per symbol (0: the symbol is not used)
 * @returns {{table: Uint32Array, bits: number}}
 */
export function huffmanTable(lengths) {
  let bits = 0;
  const count = new Uint16Array(16);
  for (const len of lengths) {
    if (len > 15) throw new Error(`a Huffman code length of ${len} (at most 15)`);
    if (len) { count[len] += 1; if (len > bits) bits = len; }
  }
  if (bits === 0) return { table: new Uint32Array(1), bits: 1 }; // no symbols: every lookup fails
  // canonical codes: the first code of each length, then codes in symbol order
  const next = new Uint16Array(16);
  let code = 0;
  for (let len = 1; len <= 15; len += 1) {
    code = (code + count[len - 1]) << 1;
    next[len] = code;
  }
  // an over-subscribed code is a damaged stream (an incomplete one is allowed: a single distance code)
  let left = 1;
  for (let len = 1; len <= 15; len += 1) {
    left = (left << 1) - count[len];
    if (left < 0) throw new Error("the stream's Huffman code is over-subscribed (damaged data)");
  }
  const table = new Uint32Array(1 << bits);
  for (let symbol = 0; symbol < lengths.length; symbol += 1) {
    const len = lengths[symbol];
    if (!len) continue;
    const c = next[len];
    next[len] += 1;
    let reversed = 0; // deflate packs a code's first bit first: index the table by the reversed code
    for (let i = 0; i < len; i += 1) reversed |= ((c >> i) & 1) << (len - 1 - i);
    const entry = (symbol << 4) | len;
    for (let i = reversed; i < table.length; i += 1 << len) table[i] = entry;
  }
  return { table, bits };
}

let FIXED = null;
/** The fixed codes of block type 1 (built once). */
function fixedTables() {
  if (!FIXED) {
    const lit = new Uint8Array(288);
    lit.fill(8, 0, 144); lit.fill(9, 144, 256); lit.fill(7, 256, 280); lit.fill(8, 280, 288);
    FIXED = { lit: huffmanTable(lit), dist: huffmanTable(new Uint8Array(30).fill(5)) };
  }
  return FIXED;
}

/**
 * The Adler-32 of bytes (RFC 1950). JavaScript numbers are exact integers up to 2^53, so
 * the sums are reduced once per 2^20 bytes, not per 5,552 as in 32-bit arithmetic.
 * @param {Uint8Array} data
 * @returns {number} unsigned
 */
export function adler32(data) {
  let a = 1, b = 0;
  const n = data.length;
  for (let i = 0; i < n;) {
    const end = Math.min(i + (1 << 20), n);
    const quads = i + ((end - i) & ~3);
    for (; i < quads; i += 4) {
      const d0 = data[i], d1 = data[i + 1], d2 = data[i + 2], d3 = data[i + 3];
      b += 4 * a + 4 * d0 + 3 * d1 + 2 * d2 + d3;
      a += d0 + d1 + d2 + d3;
    }
    for (; i < end; i += 1) { a += data[i]; b += a; }
    a %= 65521; b %= 65521;
  }
  return (b * 65536 + a) >>> 0;
}

/**
 * Whether bytes begin as a zlib stream does (deflate, a window of at most 32 KiB, no
 * preset dictionary, the header's check): a frame's codes sent short and not so are
 * just the wrong length.
 * @param {Uint8Array} input
 * @returns {boolean}
 */
export function isZlib(input) {
  if (input.length < 6) return false;
  const cmf = input[0], flg = input[1];
  return (cmf & 15) === 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 === 0 && !(flg & 32);
}

const damaged = (why) => new Error(`the frame's zlib stream is damaged: ${why}`);

/** The bits of a stream, lowest first, for the blocks' headers (the codes are read in `codes`). */
class Bits {
  constructor(input, pos) {
    this.input = input;
    this.pos = pos; // the next byte to read
    this.buf = 0; // bits read ahead, lowest first
    this.cnt = 0;
  }

  /** At least n (<= 24) bits in buf; past the end, zeros (more than the check's 4 bytes: damage). */
  need(n) {
    while (this.cnt < n) {
      if (this.pos < this.input.length) this.buf |= this.input[this.pos] << this.cnt;
      else if (this.pos > this.input.length + 4) throw damaged("it ends in the middle of a block");
      this.pos += 1;
      this.cnt += 8;
    }
  }

  take(n) {
    this.need(n);
    const v = this.buf & ((1 << n) - 1);
    this.buf >>>= n;
    this.cnt -= n;
    return v;
  }

  decode(h) {
    this.need(h.bits);
    const entry = h.table[this.buf & ((1 << h.bits) - 1)];
    const len = entry & 15;
    if (!len) throw damaged("a code that names no symbol");
    this.buf >>>= len;
    this.cnt -= len;
    return entry >>> 4;
  }

  /** To the next byte boundary: drop what is left of this byte, give back whole bytes read ahead. */
  align() {
    this.pos -= (this.cnt - (this.cnt & 7)) >> 3;
    this.buf = 0;
    this.cnt = 0;
  }
}

/** A dynamic block's two codes, read from its header. */
function dynamicTables(bits) {
  const nlit = bits.take(5) + 257, ndist = bits.take(5) + 1, nclen = bits.take(4) + 4;
  if (nlit > 286 || ndist > 30) throw damaged("a block lists too many codes");
  const clen = new Uint8Array(19);
  for (let i = 0; i < nclen; i += 1) clen[CLEN_ORDER[i]] = bits.take(3);
  const ch = huffmanTable(clen);
  const lengths = new Uint8Array(nlit + ndist);
  for (let i = 0; i < lengths.length;) {
    const sym = bits.decode(ch);
    if (sym < 16) { lengths[i] = sym; i += 1; continue; }
    let repeat, value = 0;
    if (sym === 16) {
      if (i === 0) throw damaged("a length repeats before any length");
      value = lengths[i - 1]; repeat = 3 + bits.take(2);
    } else if (sym === 17) repeat = 3 + bits.take(3);
    else repeat = 11 + bits.take(7);
    if (i + repeat > lengths.length) throw damaged("code lengths run past their count");
    lengths.fill(value, i, i + repeat);
    i += repeat;
  }
  if (!lengths[256]) throw damaged("a block without an end code");
  return { lit: huffmanTable(lengths.subarray(0, nlit)), dist: huffmanTable(lengths.subarray(nlit)) };
}

/**
 * A block's codes into `out` from `o` on, to its end code; returns the next output byte.
 * The hot loop: the reader's state is kept in locals here and put back at the end.
 */
function codes(bits, lit, dist, out, o) {
  const input = bits.input, n = input.length, length = out.length;
  const lt = lit.table, lmask = (1 << lit.bits) - 1, dt = dist.table, dmask = (1 << dist.bits) - 1;
  let pos = bits.pos, buf = bits.buf, cnt = bits.cnt;
  for (;;) {
    while (cnt < 15) { // a code is at most 15 bits
      if (pos < n) buf |= input[pos] << cnt;
      else if (pos > n + 4) throw damaged("it ends in the middle of a block");
      pos += 1; cnt += 8;
    }
    let entry = lt[buf & lmask];
    let len = entry & 15;
    if (!len) throw damaged("a code that names no symbol");
    buf >>>= len; cnt -= len;
    const sym = entry >>> 4;
    if (sym < 256) {
      if (o >= length) throw damaged(`it holds more than the frame's ${length} bytes`);
      out[o] = sym; o += 1;
      continue;
    }
    if (sym === 256) break;
    const li = sym - 257;
    if (li >= 29) throw damaged("a length code past 285");
    while (cnt < 20) { // a length's extra bits (at most 5) and a distance code (at most 15)
      if (pos < n) buf |= input[pos] << cnt;
      else if (pos > n + 4) throw damaged("it ends in the middle of a block");
      pos += 1; cnt += 8;
    }
    const lx = LENGTH_EXTRA[li];
    const count = LENGTH_BASE[li] + (buf & ((1 << lx) - 1));
    buf >>>= lx; cnt -= lx;
    entry = dt[buf & dmask];
    len = entry & 15;
    if (!len) throw damaged("a code that names no symbol");
    buf >>>= len; cnt -= len;
    const di = entry >>> 4;
    if (di >= 30) throw damaged("a distance code past 29");
    const dx = DIST_EXTRA[di];
    while (cnt < dx) { // at most 13
      if (pos < n) buf |= input[pos] << cnt;
      else if (pos > n + 4) throw damaged("it ends in the middle of a block");
      pos += 1; cnt += 8;
    }
    const d = DIST_BASE[di] + (buf & ((1 << dx) - 1));
    buf >>>= dx; cnt -= dx;
    if (d > o) throw damaged("a distance before the start");
    if (o + count > length) throw damaged(`it holds more than the frame's ${length} bytes`);
    if (d === 1) { out.fill(out[o - 1], o, o + count); o += count; } else {
      for (const end = o + count; o < end; o += 1) out[o] = out[o - d];
    }
  }
  bits.pos = pos; bits.buf = buf; bits.cnt = cnt;
  return o;
}

/**
 * Decode a zlib stream whose output is `length` bytes.
 * @param {Uint8Array} input the stream (header, deflate blocks, Adler-32)
 * @param {number} length the bytes it must give
 * @returns {Uint8Array}
 */
export function inflate(input, length) {
  if (!isZlib(input)) throw new Error("the frame's bytes are not a zlib stream (bad header)");
  const out = new Uint8Array(length);
  const bits = new Bits(input, 2);
  let o = 0; // next output byte
  let last = 0;
  while (!last) {
    last = bits.take(1);
    const type = bits.take(2);
    if (type === 0) { // stored: byte-aligned LEN, NLEN, then LEN bytes
      bits.align();
      const at = bits.pos;
      if (at + 4 > input.length) throw damaged("a stored block's header is cut off");
      const size = input[at] | (input[at + 1] << 8);
      if ((size ^ 0xffff) !== (input[at + 2] | (input[at + 3] << 8))) {
        throw damaged("a stored block's length does not match its check");
      }
      if (at + 4 + size > input.length) throw damaged("a stored block is cut off");
      if (o + size > length) throw damaged(`it holds more than the frame's ${length} bytes`);
      out.set(input.subarray(at + 4, at + 4 + size), o);
      bits.pos = at + 4 + size;
      o += size;
    } else if (type === 1) {
      const { lit, dist } = fixedTables();
      o = codes(bits, lit, dist, out, o);
    } else if (type === 2) {
      const { lit, dist } = dynamicTables(bits);
      o = codes(bits, lit, dist, out, o);
    } else {
      throw damaged("a block of the reserved type 3");
    }
  }
  if (o !== length) throw damaged(`it holds ${o} bytes, not the frame's ${length}`);
  // the Adler-32 starts at the next whole byte
  bits.align();
  const at = bits.pos;
  if (at + 4 > input.length) throw damaged("its check is cut off");
  const want = ((input[at] << 24) | (input[at + 1] << 16) | (input[at + 2] << 8) | input[at + 3]) >>> 0;
  if (adler32(out) !== want) throw damaged("its Adler-32 check does not match");
  return out;
}

import { readingOrder } from './reading-order.ts';
import { corners, minAreaRect, unclip, type Point, type RotatedRect } from './rotated-rect.ts';

export interface DbOptions {
  /** Probability above which a pixel is text. */
  threshold: number;
  /** Least mean probability inside a region's rectangle for it to be kept. */
  boxThreshold: number;
  /** How far a kept rectangle grows: area × ratio / perimeter on every side. */
  unclipRatio: number;
  /** Shortest side (map pixels) of a kept rectangle, before growing (after: this + 2). */
  minSize: number;
  /** Most regions looked at, largest map first come first. */
  maxCandidates: number;
}

/** A text region found on the page, in the page's pixels. */
export interface DetectedBox {
  /** Corners clockwise from the top-left: [[x, y] × 4]. */
  box: [Point, Point, Point, Point];
  /** Mean text probability inside the region's rectangle. */
  score: number;
  /** Degrees the box's top edge turns from horizontal (clockwise positive, as y grows downwards). */
  angle: number;
}

const round2 = (v: number) => Math.round(v * 100) / 100;

/** Mean of `map` over the pixels whose centres lie inside `rect`. */
function meanInside(map: ArrayLike<number>, width: number, height: number, rect: RotatedRect): number {
  const points = corners(rect);
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const x1 = Math.min(width - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(height - 1, Math.ceil(Math.max(...ys)));
  const hw = rect.width / 2 + 1e-6;
  const hh = rect.height / 2 + 1e-6;
  let sum = 0;
  let count = 0;
  for (let y = y0; y <= y1; y++) {
    const dy = y + 0.5 - rect.cy;
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - rect.cx;
      if (Math.abs(dx * rect.ux + dy * rect.uy) > hw || Math.abs(-dx * rect.uy + dy * rect.ux) > hh) continue;
      sum += map[y * width + x] as number;
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/**
 * DB post-processing of one probability map (`mapWidth` × `mapHeight`, the size of the tensor the
 * page was resized to) into text boxes on the page (`page.width` × `page.height`), in reading
 * order: threshold the map; label its 8-connected regions; take each region's minimum-area
 * rectangle (over its pixels' outline); drop those too thin or too faint (mean probability inside
 * below `boxThreshold`); grow the rest by the unclip distance (the network predicts a shrunk
 * kernel of each line); map them onto the page per axis and clip them to it.
 */
export function detectBoxes(map: ArrayLike<number>, mapWidth: number, mapHeight: number, page: { width: number; height: number }, options: DbOptions): DetectedBox[] {
  const size = mapWidth * mapHeight;
  const text = new Uint8Array(size);
  for (let i = 0; i < size; i++) if ((map[i] as number) > options.threshold) text[i] = 1;
  const stack = new Int32Array(size);
  const rowMin = new Int32Array(mapHeight);
  const rowMax = new Int32Array(mapHeight);
  const sx = page.width / mapWidth;
  const sy = page.height / mapHeight;
  const clip = (p: Point): Point => [Math.min(page.width, Math.max(0, p[0] * sx)), Math.min(page.height, Math.max(0, p[1] * sy))];
  const found: DetectedBox[] = [];
  let candidates = 0;
  for (let start = 0; start < size && candidates < options.maxCandidates; start++) {
    if (text[start] !== 1) continue;
    candidates++;
    // Flood fill (8-connected); visited pixels are marked 2. Each row's leftmost and rightmost
    // pixel outline the region. `start` is the region's first pixel in raster order, so its row is the top.
    const top = (start / mapWidth) | 0;
    let bottom = top;
    rowMin[top] = mapWidth;
    rowMax[top] = -1;
    let depth = 0;
    stack[depth++] = start;
    text[start] = 2;
    while (depth > 0) {
      const at = stack[--depth] as number;
      const y = (at / mapWidth) | 0;
      const x = at - y * mapWidth;
      while (y > bottom) {
        bottom++;
        rowMin[bottom] = mapWidth;
        rowMax[bottom] = -1;
      }
      if (x < (rowMin[y] as number)) rowMin[y] = x;
      if (x > (rowMax[y] as number)) rowMax[y] = x;
      for (let ny = Math.max(0, y - 1); ny <= Math.min(mapHeight - 1, y + 1); ny++) {
        for (let nx = Math.max(0, x - 1); nx <= Math.min(mapWidth - 1, x + 1); nx++) {
          const n = ny * mapWidth + nx;
          if (text[n] === 1) {
            text[n] = 2;
            stack[depth++] = n;
          }
        }
      }
    }
    const outline: Point[] = [];
    for (let y = top; y <= bottom; y++) {
      if ((rowMax[y] as number) < 0) continue;
      outline.push([rowMin[y] as number, y], [(rowMax[y] as number) + 1, y], [rowMin[y] as number, y + 1], [(rowMax[y] as number) + 1, y + 1]);
    }
    const rect = minAreaRect(outline);
    if (Math.min(rect.width, rect.height) < options.minSize) continue;
    const score = meanInside(map, mapWidth, mapHeight, rect);
    if (score < options.boxThreshold) continue;
    const grown = unclip(rect, options.unclipRatio);
    if (Math.min(grown.width, grown.height) < options.minSize + 2) continue;
    const box = corners(grown).map(clip) as DetectedBox['box'];
    const angle = (Math.atan2(box[1][1] - box[0][1], box[1][0] - box[0][0]) * 180) / Math.PI;
    found.push({ box: box.map((p) => [round2(p[0]), round2(p[1])]) as DetectedBox['box'], score: Math.round(score * 1e4) / 1e4, angle: round2(angle) });
  }
  return readingOrder(found.map((f) => bounds(f.box))).map((i) => found[i] as DetectedBox);
}

/** The axis-aligned extent of a box. */
export function bounds(box: readonly Point[]): { left: number; top: number; right: number; bottom: number } {
  const xs = box.map((p) => p[0]);
  const ys = box.map((p) => p[1]);
  return { left: Math.min(...xs), top: Math.min(...ys), right: Math.max(...xs), bottom: Math.max(...ys) };
}

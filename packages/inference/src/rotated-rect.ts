export type Point = [number, number];

/**
 * A rectangle at any angle: its centre, the unit vector `u` of its `width` side (the side closest
 * to horizontal, pointing right), and `height` along `v`, u turned a quarter towards +y (down, in
 * image coordinates).
 */
export interface RotatedRect {
  cx: number;
  cy: number;
  ux: number;
  uy: number;
  width: number;
  height: number;
}

/** Convex hull (Andrew's monotone chain), counter-clockwise, without collinear points. */
export function convexHull(points: readonly Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (sorted.length < 3) return sorted;
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of sorted) {
    while (lower.length >= 2 && cross(lower[lower.length - 2] as Point, lower[lower.length - 1] as Point, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = sorted.length - 1; i >= 0; i--) {
    const p = sorted[i] as Point;
    while (upper.length >= 2 && cross(upper[upper.length - 2] as Point, upper[upper.length - 1] as Point, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/** Orients a rectangle given by one side's direction so that `u` is the side closest to horizontal, pointing right. */
function normalised(cx: number, cy: number, ux: number, uy: number, along: number, across: number): RotatedRect {
  // u and v = (-uy, ux) span the rectangle; pick whichever of ±u, ±v points most to the right.
  const candidates: RotatedRect[] = [
    { cx, cy, ux, uy, width: along, height: across },
    { cx, cy, ux: -ux, uy: -uy, width: along, height: across },
    { cx, cy, ux: -uy, uy: ux, width: across, height: along },
    { cx, cy, ux: uy, uy: -ux, width: across, height: along },
  ];
  let best = candidates[0] as RotatedRect;
  for (const c of candidates) if (c.ux > best.ux + 1e-9 || (Math.abs(c.ux - best.ux) <= 1e-9 && c.uy < best.uy)) best = c;
  return best;
}

/**
 * The smallest-area rectangle holding every point (rotating calipers over the convex hull: the
 * best rectangle has a side on a hull edge).
 */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) return { cx: 0, cy: 0, ux: 1, uy: 0, width: 0, height: 0 };
  if (hull.length === 1) return { cx: (hull[0] as Point)[0], cy: (hull[0] as Point)[1], ux: 1, uy: 0, width: 0, height: 0 };
  let best: { area: number; rect: RotatedRect } | undefined;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i] as Point;
    const b = hull[(i + 1) % hull.length] as Point;
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (length === 0) continue;
    const ux = (b[0] - a[0]) / length;
    const uy = (b[1] - a[1]) / length;
    let minU = Infinity;
    let maxU = -Infinity;
    let minV = Infinity;
    let maxV = -Infinity;
    for (const p of hull) {
      const u = p[0] * ux + p[1] * uy;
      const v = -p[0] * uy + p[1] * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (best && area >= best.area - 1e-9) continue;
    const cu = (minU + maxU) / 2;
    const cv = (minV + maxV) / 2;
    best = { area, rect: normalised(cu * ux - cv * uy, cu * uy + cv * ux, ux, uy, maxU - minU, maxV - minV) };
  }
  return (best as { rect: RotatedRect }).rect;
}

/** Corners clockwise from the top-left (as the page shows it): top-left, top-right, bottom-right, bottom-left. */
export function corners(rect: RotatedRect): [Point, Point, Point, Point] {
  const { cx, cy, ux, uy } = rect;
  const hw = rect.width / 2;
  const hh = rect.height / 2;
  const vx = -uy;
  const vy = ux;
  return [
    [cx - ux * hw - vx * hh, cy - uy * hw - vy * hh],
    [cx + ux * hw - vx * hh, cy + uy * hw - vy * hh],
    [cx + ux * hw + vx * hh, cy + uy * hw + vy * hh],
    [cx - ux * hw + vx * hh, cy - uy * hw + vy * hh],
  ];
}

/**
 * DB's unclip: the shrunk text kernel the network predicts, offset outwards by
 * `area × ratio / perimeter`. For a rectangle, the round-joined offset's minimum-area rectangle
 * is the rectangle grown by that distance on every side, which is what is returned.
 */
export function unclip(rect: RotatedRect, ratio: number): RotatedRect {
  const perimeter = 2 * (rect.width + rect.height);
  if (perimeter === 0) return rect;
  const distance = (rect.width * rect.height * ratio) / perimeter;
  return { ...rect, width: rect.width + 2 * distance, height: rect.height + 2 * distance };
}

/** An axis-aligned extent on the page (y grows downwards). */
export interface Bounds {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

type Interval = [number, number];

const height = (b: Bounds) => b.bottom - b.top;

/** Boxes that share a line: each overlaps another of the band vertically by at least half the shorter one's height. */
function bands(items: readonly Bounds[], ids: number[]): number[][] {
  const sorted = [...ids].sort((a, b) => (items[a] as Bounds).top - (items[b] as Bounds).top);
  const result: number[][] = [];
  for (const id of sorted) {
    const box = items[id] as Bounds;
    const band = result.at(-1);
    const joins = band?.some((other) => {
      const o = items[other] as Bounds;
      const overlap = Math.min(o.bottom, box.bottom) - Math.max(o.top, box.top);
      return overlap >= 0.5 * Math.min(height(o), height(box));
    });
    if (band && joins) band.push(id);
    else result.push([id]);
  }
  return result;
}

/** The x ranges the band's boxes cover, merged, left to right. */
function covered(items: readonly Bounds[], band: number[]): Interval[] {
  const spans = band.map((id) => [(items[id] as Bounds).left, (items[id] as Bounds).right] as Interval).sort((a, b) => a[0] - b[0]);
  const merged: Interval[] = [];
  for (const span of spans) {
    const last = merged.at(-1);
    if (last && span[0] <= last[1]) last[1] = Math.max(last[1], span[1]);
    else merged.push([...span]);
  }
  return merged;
}

/** The widest part of `within` that no covered span touches, if at least `min` wide. */
function widestFree(within: Interval, spans: Interval[], min: number): Interval | undefined {
  let best: Interval | undefined;
  let from = within[0];
  const consider = (to: number) => {
    if (to - from >= min && (!best || to - from > best[1] - best[0])) best = [from, to];
  };
  for (const [left, right] of spans) {
    if (right <= from) continue;
    if (left >= within[1]) break;
    consider(Math.min(left, within[1]));
    from = Math.max(from, right);
  }
  consider(within[1]);
  return best;
}

/**
 * Reading order of text boxes, as indexes into `items`: top to bottom, left to right, column by
 * column. Boxes are grouped into bands (lines); consecutive bands that leave a common vertical
 * gap (a gutter at least `minGutter` wide, no box crossing it, at least one band with boxes on
 * both sides) form a column block, read as its left part, then its right part, each ordered the
 * same way (so three columns work too). A band that crosses the gutter (a title, a footer) ends
 * the block. `minGutter` defaults to 0.8 × the median box height: wider than a space between
 * words, narrower than a column gap.
 */
export function readingOrder(items: readonly Bounds[], minGutter?: number): number[] {
  if (items.length === 0) return [];
  const heights = items.map(height).sort((a, b) => a - b);
  const gutter = minGutter ?? 0.8 * (heights[heights.length >> 1] as number);
  return order(items, items.map((_, i) => i), gutter);
}

function order(items: readonly Bounds[], ids: number[], minGutter: number): number[] {
  if (ids.length <= 1) return ids;
  const result: number[] = [];
  let block: { members: number[]; gutter: Interval } | undefined;
  const emitBlock = () => {
    if (!block) return;
    const mid = (block.gutter[0] + block.gutter[1]) / 2;
    const left = block.members.filter((id) => (items[id] as Bounds).right <= mid);
    const right = block.members.filter((id) => (items[id] as Bounds).right > mid);
    result.push(...order(items, left, minGutter), ...order(items, right, minGutter));
    block = undefined;
  };
  for (const band of bands(items, ids)) {
    const spans = covered(items, band);
    if (block) {
      const narrowed = widestFree(block.gutter, spans, minGutter);
      if (narrowed) {
        block.members.push(...band);
        block.gutter = narrowed;
        continue;
      }
      emitBlock();
    }
    // A gutter between two of the band's own spans starts a column block.
    let gap: Interval | undefined;
    for (let i = 1; i < spans.length; i++) {
      const candidate: Interval = [(spans[i - 1] as Interval)[1], (spans[i] as Interval)[0]];
      if (candidate[1] - candidate[0] >= minGutter && (!gap || candidate[1] - candidate[0] > gap[1] - gap[0])) gap = candidate;
    }
    if (gap) block = { members: [...band], gutter: gap };
    else result.push(...band.sort((a, b) => (items[a] as Bounds).left - (items[b] as Bounds).left));
  }
  emitBlock();
  return result;
}

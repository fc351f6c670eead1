import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bounds, detectBoxes, type DbOptions } from '../../packages/inference/src/db-postprocess.ts';
import { pageTensorSize } from '../../packages/inference/src/page-preprocess.ts';
import { readingOrder, type Bounds } from '../../packages/inference/src/reading-order.ts';
import { minAreaRect, unclip } from '../../packages/inference/src/rotated-rect.ts';

const OPTIONS: DbOptions = { threshold: 0.3, boxThreshold: 0.6, unclipRatio: 1.5, minSize: 3, maxCandidates: 1000 };

/** A probability map of `width` × `height` with `value` inside each rectangle (centre, size, angle in degrees). */
function map(width: number, height: number, regions: { cx: number; cy: number; w: number; h: number; angle?: number; value?: number }[]): Float32Array {
  const data = new Float32Array(width * height).fill(0.02);
  for (const r of regions) {
    const a = ((r.angle ?? 0) * Math.PI) / 180;
    const ux = Math.cos(a);
    const uy = Math.sin(a);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const dx = x + 0.5 - r.cx;
        const dy = y + 0.5 - r.cy;
        if (Math.abs(dx * ux + dy * uy) <= r.w / 2 && Math.abs(-dx * uy + dy * ux) <= r.h / 2) data[y * width + x] = r.value ?? 0.9;
      }
    }
  }
  return data;
}

const near = (actual: number, expected: number, tolerance: number, what: string) => assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);

describe('DB post-processing of a text probability map', () => {
  test('each region becomes its minimum-area box, grown by area × ratio / perimeter on every side', () => {
    const boxes = detectBoxes(map(200, 100, [{ cx: 100, cy: 30, w: 120, h: 10 }, { cx: 60, cy: 70, w: 80, h: 8 }]), 200, 100, { width: 200, height: 100 }, OPTIONS);
    assert.equal(boxes.length, 2);
    const [first, second] = boxes as [(typeof boxes)[number], (typeof boxes)[number]];
    // 120 × 10 kernel: distance 120·10·1.5 / 260 ≈ 6.92 → 133.8 × 23.8 around (100, 30).
    const d = (120 * 10 * 1.5) / 260;
    const b = bounds(first.box);
    near(b.left, 100 - 60 - d, 0.6, 'left');
    near(b.right, 100 + 60 + d, 0.6, 'right');
    near(b.top, 30 - 5 - d, 0.6, 'top');
    near(b.bottom, 30 + 5 + d, 0.6, 'bottom');
    assert.equal(first.angle, 0);
    near(first.score, 0.9, 1e-6, 'score is the mean probability inside');
    assert.ok(bounds(second.box).top > b.top, 'reading order: the upper line first');
    // Corners clockwise from the top-left.
    assert.ok(first.box[0][0] < first.box[1][0] && first.box[1][1] < first.box[2][1] && first.box[3][0] < first.box[2][0]);
  });

  test('a tilted line gives a tilted box with its angle', () => {
    const [box] = detectBoxes(map(300, 200, [{ cx: 150, cy: 100, w: 200, h: 14, angle: 20 }]), 300, 200, { width: 300, height: 200 }, OPTIONS);
    assert.ok(box);
    near(box.angle, 20, 1.5, 'angle');
    const top = Math.hypot(box.box[1][0] - box.box[0][0], box.box[1][1] - box.box[0][1]);
    const side = Math.hypot(box.box[3][0] - box.box[0][0], box.box[3][1] - box.box[0][1]);
    const d = (200 * 14 * 1.5) / 428;
    near(top, 200 + 2 * d, 3, 'width along the line');
    near(side, 14 + 2 * d, 3, 'height across it');
  });

  test('faint regions, specks and an empty map give no boxes', () => {
    const faint = map(100, 60, [{ cx: 50, cy: 30, w: 60, h: 10, value: 0.45 }]);
    assert.deepEqual(detectBoxes(faint, 100, 60, { width: 100, height: 60 }, OPTIONS), [], 'above the pixel threshold, below the box threshold');
    const speck = map(100, 60, [{ cx: 50, cy: 30, w: 2, h: 2 }]);
    assert.deepEqual(detectBoxes(speck, 100, 60, { width: 100, height: 60 }, OPTIONS), [], 'thinner than min_size');
    assert.deepEqual(detectBoxes(new Float32Array(100 * 60), 100, 60, { width: 100, height: 60 }, OPTIONS), []);
  });

  test('boxes are mapped onto the page per axis and clipped to it', () => {
    // The map is the page shrunk to half its width and a third of its height; one region touches the edge.
    const [inner, edge] = detectBoxes(map(100, 60, [{ cx: 50, cy: 20, w: 40, h: 8 }, { cx: 50, cy: 55, w: 96, h: 8 }]), 100, 60, { width: 200, height: 180 }, OPTIONS);
    assert.ok(inner && edge);
    const d = (40 * 8 * 1.5) / 96;
    near(bounds(inner.box).left, (50 - 20 - d) * 2, 1.2, 'x doubled');
    near(bounds(inner.box).top, (20 - 4 - d) * 3, 1.8, 'y tripled');
    const e = bounds(edge.box);
    assert.equal(e.left, 0);
    assert.equal(e.right, 200);
    assert.equal(e.bottom, 180);
  });

  test('max_candidates bounds the regions looked at', () => {
    const many = map(200, 100, Array.from({ length: 6 }, (_, i) => ({ cx: 20 + i * 30, cy: 50, w: 20, h: 10 })));
    assert.equal(detectBoxes(many, 200, 100, { width: 200, height: 100 }, OPTIONS).length, 6);
    assert.equal(detectBoxes(many, 200, 100, { width: 200, height: 100 }, { ...OPTIONS, maxCandidates: 2 }).length, 2);
  });
});

describe('rotated rectangles', () => {
  test('minimum-area rectangle of a rotated point set, and unclip', () => {
    const a = Math.PI / 6;
    const points: [number, number][] = [];
    for (const [u, v] of [[-50, -5], [50, -5], [50, 5], [-50, 5], [0, 0], [10, 3]] as const) points.push([100 + u * Math.cos(a) - v * Math.sin(a), 80 + u * Math.sin(a) + v * Math.cos(a)]);
    const rect = minAreaRect(points);
    near(rect.width, 100, 1e-6, 'width');
    near(rect.height, 10, 1e-6, 'height');
    near((Math.atan2(rect.uy, rect.ux) * 180) / Math.PI, 30, 1e-6, 'angle');
    const grown = unclip(rect, 2);
    near(grown.width - rect.width, (2 * 2 * 1000) / 220, 1e-6, 'grown by 2 × area × ratio / perimeter');
  });
});

describe('reading order', () => {
  const line = (left: number, top: number, width: number, height = 20): Bounds => ({ left, top, right: left + width, bottom: top + height });

  test('one column: top to bottom; pieces of one line: left to right', () => {
    const items = [line(40, 100, 300), line(40, 40, 500), line(360, 102, 120), line(40, 70, 200)];
    assert.deepEqual(readingOrder(items), [1, 3, 0, 2]);
  });

  test('two columns under a title and above a footer: the left column, then the right', () => {
    const title = line(40, 20, 900, 30);
    const left = [0, 1, 2, 3, 4].map((i) => line(40, 70 + i * 30, 380 - i * 40));
    // The right column's lines sit between the left's, and it is one line longer.
    const right = [0, 1, 2, 3, 4, 5].map((i) => line(520, 80 + i * 30, 300 + (i % 2) * 100));
    const footer = line(40, 300, 700);
    const items = [footer, ...right, title, ...left];
    const names = ['footer', ...right.map((_, i) => `R${i}`), 'title', ...left.map((_, i) => `L${i}`)];
    assert.deepEqual(readingOrder(items).map((i) => names[i]), ['title', 'L0', 'L1', 'L2', 'L3', 'L4', 'R0', 'R1', 'R2', 'R3', 'R4', 'R5', 'footer']);
  });

  test('two columns whose lines are level with each other are still read column by column', () => {
    const items = [0, 1, 2].flatMap((i) => [line(40, 40 + i * 30, 400), line(520, 40 + i * 30, 380)]);
    assert.deepEqual(readingOrder(items), [0, 2, 4, 1, 3, 5]);
  });
});

test('a page tensor is at most max_side and a multiple of 32 on both sides', () => {
  assert.deepEqual(pageTensorSize(1000, 1400, 960, 32), { width: 672, height: 960 });
  assert.deepEqual(pageTensorSize(300, 100, 960, 32), { width: 288, height: 96 }, 'never enlarged beyond rounding');
  assert.deepEqual(pageTensorSize(10, 5, 960, 32), { width: 32, height: 32 });
});

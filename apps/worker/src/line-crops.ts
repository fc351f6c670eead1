import sharp from 'sharp';
import { InferqError } from '@inferq/core/errors';

type Point = [number, number];
export type Quad = [Point, Point, Point, Point];

/** Below this tilt (degrees) a line is cut straight out of the page: turning it would only blur it. */
const LEVEL_DEGREES = 1;
const WHITE = { r: 255, g: 255, b: 255 };

interface RawPage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** The page decoded once (EXIF orientation applied, as detection saw it), to cut many lines from. */
export async function decodePage(bytes: Uint8Array, maxPixels: number): Promise<RawPage> {
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels }).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (error) {
    throw new InferqError('IMAGE_INVALID', `the page could not be decoded: ${(error as Error).message}`);
  }
}

const distance = (a: Point, b: Point) => Math.hypot(b[0] - a[0], b[1] - a[1]);

/** The box lengthened at both ends, along the line, by `margin` × its height (recognition reads words at a line's ends better with some background there). */
export function lengthened(box: Quad, margin: number): Quad {
  const [tl, tr, br, bl] = box;
  const length = distance(tl, tr);
  if (margin <= 0 || length === 0) return box;
  const by = margin * Math.max(distance(tl, bl), distance(tr, br));
  const ux = ((tr[0] - tl[0]) / length) * by;
  const uy = ((tr[1] - tl[1]) / length) * by;
  return [[tl[0] - ux, tl[1] - uy], [tr[0] + ux, tr[1] + uy], [br[0] + ux, br[1] + uy], [bl[0] - ux, bl[1] - uy]];
}

/**
 * One line cut out of the page along its box (corners clockwise from the top-left), levelled:
 * the box's bounding rectangle is extracted, turned by the box's angle so the line is
 * horizontal, and its box-sized centre kept. A box at least 1.5 times taller than wide (vertical
 * text) is turned a quarter, as PaddleOCR does; `upsideDown` turns the result 180°. PNG.
 */
export async function cropLine(page: RawPage, box: Quad, options: { upsideDown?: boolean } = {}): Promise<Buffer> {
  const [tl, tr, br, bl] = box;
  const width = Math.max(1, Math.round(Math.max(distance(tl, tr), distance(bl, br))));
  const height = Math.max(1, Math.round(Math.max(distance(tl, bl), distance(tr, br))));
  const angle = (Math.atan2(tr[1] - tl[1], tr[0] - tl[0]) * 180) / Math.PI;
  const xs = box.map((p) => p[0]);
  const ys = box.map((p) => p[1]);
  const left = Math.max(0, Math.min(page.width - 1, Math.floor(Math.min(...xs))));
  const top = Math.max(0, Math.min(page.height - 1, Math.floor(Math.min(...ys))));
  const right = Math.max(left + 1, Math.min(page.width, Math.ceil(Math.max(...xs))));
  const bottom = Math.max(top + 1, Math.min(page.height, Math.ceil(Math.max(...ys))));
  const raw = { raw: { width: page.width, height: page.height, channels: page.channels } };
  let line = sharp(page.data, raw).extract({ left, top, width: right - left, height: bottom - top });
  if (Math.abs(angle) >= LEVEL_DEGREES) {
    const turned = await line.rotate(-angle, { background: WHITE }).raw().toBuffer({ resolveWithObject: true });
    // The box's centre, from the extract's frame into the turned one (turned about the extract's centre, canvas grown).
    const cx = (tl[0] + tr[0] + br[0] + bl[0]) / 4 - left - (right - left) / 2;
    const cy = (tl[1] + tr[1] + br[1] + bl[1]) / 4 - top - (bottom - top) / 2;
    const a = (-angle * Math.PI) / 180;
    const tx = cx * Math.cos(a) - cy * Math.sin(a) + turned.info.width / 2;
    const ty = cx * Math.sin(a) + cy * Math.cos(a) + turned.info.height / 2;
    const x0 = Math.max(0, Math.min(turned.info.width - 1, Math.round(tx - width / 2)));
    const y0 = Math.max(0, Math.min(turned.info.height - 1, Math.round(ty - height / 2)));
    line = sharp(turned.data, { raw: { width: turned.info.width, height: turned.info.height, channels: turned.info.channels } }).extract({
      left: x0,
      top: y0,
      width: Math.min(width, turned.info.width - x0),
      height: Math.min(height, turned.info.height - y0),
    });
  }
  let turn = options.upsideDown ? 180 : 0;
  if (height >= 1.5 * width) turn += 270;
  // After the extract in the same pipeline: sharp applies the two in the order they are called.
  if (turn % 360 !== 0) line = line.rotate(turn % 360);
  return line.png({ compressionLevel: 1 }).toBuffer();
}

import { crc32 } from 'node:zlib';
import sharp, { type OverlayOptions } from 'sharp';

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A line of black text on white, rendered from SVG by the same image library the worker uses. */
export async function renderTextLine(text: string, options: { fontSize?: number; upsideDown?: boolean } = {}): Promise<Buffer> {
  const size = options.fontSize ?? 32;
  const width = Math.ceil(text.length * size * 0.62) + 24;
  const height = size + 18;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="white"/>
    <text x="12" y="${size + 2}" font-family="DejaVu Sans" font-size="${size}" fill="black">${escapeXml(text)}</text></svg>`;
  const image = sharp(Buffer.from(svg));
  return (options.upsideDown ? image.rotate(180) : image).png().toBuffer();
}

/**
 * A real PNG whose header claims `width` × `height` pixels: a decompression bomb in miniature.
 * The IHDR chunk is rewritten (with its CRC), so only a decoder that reads the header first
 * can refuse it cheaply.
 */
export async function pngClaiming(width: number, height: number): Promise<Buffer> {
  const png = Buffer.from(await sharp({ create: { width: 8, height: 8, channels: 3, background: 'white' } }).png().toBuffer());
  // Signature (8) + length (4) + "IHDR" (4), then width and height, then the rest of IHDR's 13 bytes, then CRC.
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29);
  return png;
}

export interface PageLine {
  text: string;
  /** Where the line's ink lies on the page: [left, top, right, bottom]. */
  bounds: [number, number, number, number];
  upsideDown: boolean;
  font: string;
  fontSize: number;
}

export interface PageSpec {
  width: number;
  height: number;
  /** Lines in reading order; `column` 0 or 1 of a two-column page (absent: full width). */
  lines: { text: string; font?: string; fontSize?: number; upsideDown?: boolean; column?: 0 | 1 }[];
  margin?: number;
  /** Gap between the two columns, in pixels. */
  gutter?: number;
}

/** One line's ink, cut tight: rendered from SVG, then trimmed of its white border. */
async function inkOf(text: string, font: string, fontSize: number): Promise<{ png: Buffer; width: number; height: number }> {
  const width = Math.ceil(text.length * fontSize * 0.75) + 40;
  const height = Math.ceil(fontSize * 1.6) + 20;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="white"/>
    <text x="20" y="${Math.ceil(fontSize * 1.2) + 4}" font-family="${font}" font-size="${fontSize}" fill="black">${escapeXml(text)}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).flatten({ background: 'white' }).trim({ background: 'white', threshold: 40 }).png().toBuffer({ resolveWithObject: true });
  return { png: data, width: info.width, height: info.height };
}

/**
 * A page of black text on white: each line rendered tight (so its true box is known), turned
 * upside down when asked, and placed top to bottom, full width or in one of two columns. Lines
 * are spaced by 1.4 × their height. Returns the PNG and every line's true box, in reading order.
 */
export async function renderPage(spec: PageSpec): Promise<{ png: Buffer; lines: PageLine[] }> {
  const margin = spec.margin ?? 40;
  const gutter = spec.gutter ?? 60;
  const columnWidth = (spec.width - 2 * margin - gutter) / 2;
  const cursor = [margin, margin];
  const lines: PageLine[] = [];
  const layers: OverlayOptions[] = [];
  for (const line of spec.lines) {
    const font = line.font ?? 'DejaVu Sans';
    const fontSize = line.fontSize ?? 24;
    const ink = await inkOf(line.text, font, fontSize);
    const png = line.upsideDown ? await sharp(ink.png).rotate(180).png().toBuffer() : ink.png;
    let left: number;
    let top: number;
    if (line.column === undefined) {
      top = Math.max(cursor[0] as number, cursor[1] as number);
      left = margin;
      cursor[0] = cursor[1] = top + Math.ceil(ink.height * 1.4) + 4;
    } else {
      top = cursor[line.column] as number;
      left = Math.round(margin + line.column * (columnWidth + gutter));
      if (ink.width > columnWidth) throw new Error(`"${line.text}" is wider than a column`);
      cursor[line.column] = top + Math.ceil(ink.height * 1.4) + 4;
    }
    if (left + ink.width > spec.width || top + ink.height > spec.height) throw new Error(`"${line.text}" does not fit on the page`);
    layers.push({ input: png, left, top });
    lines.push({ text: line.text, bounds: [left, top, left + ink.width, top + ink.height], upsideDown: line.upsideDown === true, font, fontSize });
  }
  const png = await sharp({ create: { width: spec.width, height: spec.height, channels: 3, background: 'white' } }).composite(layers).png().toBuffer();
  return { png, lines };
}

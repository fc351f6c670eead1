import { crc32 } from 'node:zlib';
import sharp from 'sharp';

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

/**
 * Renders examples/line.png, the text line the README sends to textline-ocr: black DejaVu Sans
 * on white, as the OCR tests render theirs. Committed, so the README works without fonts
 * installed; run `npx tsx scripts/render-example-line.ts` to draw it again.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderTextLine } from '../test/support/images.ts';

const target = fileURLToPath(new URL('../examples/line.png', import.meta.url));
writeFileSync(target, await renderTextLine('Invoice No 8841'));
console.log(`wrote ${target}`);

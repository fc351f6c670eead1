import type { PageSpec } from './images.ts';

const WORDS = ['invoice', 'total', 'amount', 'paid', 'order', 'number', 'customer', 'account', 'balance', 'due', 'date', 'March', 'April', 'report', 'summary', 'quarter', 'revenue', 'growth', 'shipping', 'address', 'Berlin', 'Paris', 'station', 'market', 'water', 'green', 'light', 'north', 'river', 'garden'];
const FONTS = ['DejaVu Sans', 'DejaVu Serif', 'DejaVu Sans Mono'];

/** A deterministic line of two to four words and a number, cut to `maxChars`. */
export function lineText(seed: number, maxChars: number): string {
  let x = seed * 2654435761;
  const next = () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x;
  };
  const words = Array.from({ length: 2 + (next() % 3) }, () => WORDS[next() % WORDS.length] as string);
  let text = `${words.join(' ')} ${100 + (next() % 9000)}`;
  while (text.length > maxChars) text = text.slice(0, text.lastIndexOf(' '));
  return text.charAt(0).toUpperCase() + text.slice(1);
}

type Line = PageSpec['lines'][number];
const styled = (i: number, text: string, extra: Partial<Line> = {}): Line => ({ text, font: FONTS[i % 3], fontSize: [20, 24, 28, 32][i % 4], upsideDown: i % 5 === 3, ...extra });

/** Pages of 14 and 26 lines: three fonts, four sizes, every fifth line upside down, one with a title over two columns and a footer across them. */
export const SAMPLE_PAGES: PageSpec[] = [
  // One column, 14 lines.
  { width: 900, height: 820, lines: Array.from({ length: 14 }, (_, i) => styled(i, lineText(i + 1, 40))) },
  // A title over two columns of 12 lines each, and a footer across both.
  {
    width: 1100,
    height: 900,
    lines: [
      { text: 'Quarterly Report 2024', font: 'DejaVu Serif', fontSize: 34 },
      ...Array.from({ length: 12 }, (_, i) => styled(i, lineText(100 + i, 24), { column: 0 })),
      ...Array.from({ length: 12 }, (_, i) => styled(i + 2, lineText(200 + i, 24), { column: 1 })),
      { text: 'Page 2 of 7 printed on 12 March 2024 by the accounts office in Berlin', fontSize: 18 },
    ],
  },
];

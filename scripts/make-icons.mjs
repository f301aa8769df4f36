// Renders public/icons/icon.svg into the PNG icons the manifest lists.
// Run once after changing the SVG: node scripts/make-icons.mjs (the PNGs are committed).
import sharp from 'sharp';
import { readFile } from 'node:fs/promises';

const svg = await readFile(new URL('../public/icons/icon.svg', import.meta.url));
for (const size of [192, 512]) {
  await sharp(svg).resize(size, size).png().toFile(new URL(`../public/icons/icon-${size}.png`, import.meta.url).pathname);
}
// Maskable: the artwork inside the 80 % safe zone on a full-bleed background.
const inner = await sharp(svg).resize(410, 410).png().toBuffer();
await sharp({ create: { width: 512, height: 512, channels: 4, background: '#0f172a' } })
  .composite([{ input: inner, gravity: 'center' }])
  .png()
  .toFile(new URL('../public/icons/icon-maskable-512.png', import.meta.url).pathname);
await sharp(svg).resize(180, 180).png().toFile(new URL('../public/icons/apple-touch-icon.png', import.meta.url).pathname);
console.log('icons written');

// Alternative Hamming scans, only to check that the SWAR popcount in
// src/lib/retrieval/sign-bits.ts is the right choice on this engine: a scan
// with one SWAR popcount per word, and scans with 8-bit and 16-bit lookup
// tables. Same layout and output as PackedSignStore.hammingScan.

const LUT8 = new Uint8Array(256);
for (let i = 1; i < 256; i++) LUT8[i] = (i & 1) + LUT8[i >>> 1];
const LUT16 = new Uint8Array(65536);
for (let i = 1; i < 65536; i++) LUT16[i] = (i & 1) + LUT16[i >>> 1];

function popSwar(x) {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

export function scanSwarPerWord(data, n, words, query, out) {
  for (let slot = 0, base = 0; slot < n; slot++, base += words) {
    let d = 0;
    for (let w = 0; w < words; w++) d += popSwar(data[base + w] ^ query[w]);
    out[slot] = d;
  }
  return out;
}

export function scanLut8(data, n, words, query, out) {
  for (let slot = 0, base = 0; slot < n; slot++, base += words) {
    let d = 0;
    for (let w = 0; w < words; w++) {
      const x = data[base + w] ^ query[w];
      d += LUT8[x & 0xff] + LUT8[(x >>> 8) & 0xff] + LUT8[(x >>> 16) & 0xff] + LUT8[x >>> 24];
    }
    out[slot] = d;
  }
  return out;
}

export function scanLut16(data, n, words, query, out) {
  for (let slot = 0, base = 0; slot < n; slot++, base += words) {
    let d = 0;
    for (let w = 0; w < words; w++) {
      const x = data[base + w] ^ query[w];
      d += LUT16[x & 0xffff] + LUT16[x >>> 16];
    }
    out[slot] = d;
  }
  return out;
}

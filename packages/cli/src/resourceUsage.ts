/** Peak resident memory of this process so far, in bytes (the wasm heap and tensors included). */
export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** `1536000000` → `1.5 GB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

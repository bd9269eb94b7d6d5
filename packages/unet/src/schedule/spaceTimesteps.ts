/** Python 3 `round(x)`: nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Port of `space_timesteps` (improved-diffusion `respace.py`, copied into StableSR's ddpm.py/ddim.py):
 * the timesteps of a `numTimesteps`-step process kept when each of `len(sections)` equal portions is
 * strided to `sections[i]` steps. `sections` may be a comma-separated string, or `"ddimN"` for the
 * DDIM paper's integer stride. Returned sorted (the reference returns a set; every caller sorts it).
 */
export function spaceTimesteps(numTimesteps: number, sections: readonly number[] | string): number[] {
  let counts: number[];
  if (typeof sections === 'string') {
    if (sections.startsWith('ddim')) {
      const desired = Number.parseInt(sections.slice(4), 10);
      for (let i = 1; i < numTimesteps; i++) {
        const taken: number[] = [];
        for (let t = 0; t < numTimesteps; t += i) taken.push(t);
        if (taken.length === desired) return taken;
      }
      // Same (misleading) wording as the reference, plus the count actually asked for.
      throw new Error(`space_timesteps: cannot create exactly ${numTimesteps} steps with an integer stride (asked for ${sections})`);
    }
    counts = sections.split(',').map((c) => {
      const n = Number.parseInt(c, 10);
      if (!Number.isFinite(n)) throw new Error(`space_timesteps: section count "${c}" in "${sections}" is not an integer`);
      return n;
    });
  } else {
    counts = [...sections];
  }
  if (counts.length === 0) throw new Error('space_timesteps: no section counts given');
  const sizePer = Math.floor(numTimesteps / counts.length);
  const extra = numTimesteps % counts.length;
  let startIdx = 0;
  const all = new Set<number>();
  counts.forEach((count, i) => {
    const size = sizePer + (i < extra ? 1 : 0);
    if (size < count) throw new Error(`space_timesteps: cannot divide section of ${size} steps into ${count}`);
    const fracStride = count <= 1 ? 1 : (size - 1) / (count - 1);
    // cur accumulates in float64 exactly as the Python loop does, so the rounding ties fall the same way.
    let cur = 0;
    for (let k = 0; k < count; k++) {
      all.add(startIdx + roundHalfEven(cur));
      cur += fracStride;
    }
    startIdx += size;
  });
  return [...all].sort((a, b) => a - b);
}

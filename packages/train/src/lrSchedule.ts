/** Learning-rate schedules: constant, or cosine annealing to `minLr` (`CosineAnnealingLR` over the whole run), each after a linear warm-up. */
export type LrScheduleName = 'constant' | 'cosine';

export interface LrSchedule {
  name: LrScheduleName;
  lr: number;
  /** Final rate of the cosine schedule (default 1 % of lr). */
  minLr?: number;
  /** Steps of linear warm-up from lr/warmup to lr (default 0). */
  warmup?: number;
  /** Length of the run the cosine spans. */
  totalSteps: number;
}

/** The rate of optimizer step `step` (1-based); a pure function of the schedule, so a resumed run continues it exactly. */
export function learningRate(s: LrSchedule, step: number): number {
  const warmup = s.warmup ?? 0;
  if (step <= warmup) return (s.lr * step) / warmup;
  if (s.name === 'constant') return s.lr;
  const min = s.minLr ?? s.lr / 100;
  const span = Math.max(1, s.totalSteps - warmup);
  const p = Math.min(1, (step - warmup) / span);
  return min + 0.5 * (s.lr - min) * (1 + Math.cos(Math.PI * p));
}

/**
 * The timesteps a reverse sampler visits with `steps` of the schedule's T: T first, then evenly spaced down to the
 * last one before 0 (`steps` = T gives T, T − 1, …, 1, the reference's loop). Each step moves the state from its
 * timestep to the next one in the list, and the last step to t = 0. The spacing rounds T·(1 − k/steps), so 1 step
 * is [T] and T/2 steps are every second timestep.
 */
export function reverseTimesteps(T: number, steps: number = T): number[] {
  if (!Number.isInteger(T) || T < 1) throw new Error(`IR-SDE reverse timesteps: T must be a positive integer, got ${T}`);
  if (!Number.isInteger(steps) || steps < 1 || steps > T) throw new Error(`option steps must be an integer 1…${T} (the model's T: its reverse steps are a subset of its timesteps), got ${steps}`);
  return Array.from({ length: steps }, (_, k) => Math.round(T * (1 - k / steps)));
}

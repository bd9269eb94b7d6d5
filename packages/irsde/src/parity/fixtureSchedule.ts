import { type Fixture } from '@stablesr/core';
import { type IRSDEConfig, type IRSDESchedule, irsdeSchedule } from '../irsdeSchedule.js';
import { type ThetaScheduleName } from '../thetaSchedule.js';

/** The schedule of a fixture's `config` (`max_sigma`, `T`, `schedule`, `eps`: the `IRSDE` constructor's). */
export function fixtureSchedule(fx: Fixture): IRSDESchedule {
  const c = fx.config;
  if (typeof c.max_sigma !== 'number') throw new Error(`${fx.dir}: config.max_sigma must be a number`);
  const config: IRSDEConfig = { max_sigma: c.max_sigma };
  if (c.T !== undefined) config.T = Number(c.T);
  if (c.schedule !== undefined) config.schedule = c.schedule as ThetaScheduleName;
  if (c.eps !== undefined) config.eps = Number(c.eps);
  return irsdeSchedule(config);
}

import { makeDdimTimesteps } from './packages/unet/src/schedule/ddimSchedule.ts';
for (const s of [3, 9, 1, 2, 50, 999, 1000]) { try { console.log(s, makeDdimTimesteps(1000, s, { upstreamPlusOne: true }).length); } catch (e) { console.log(s, (e as Error).message); } }

import sharp from 'sharp';
import { writeFileAtomic } from '@stablesr/core';

/** What the training curve shows: the loss of every step and the validation PSNR where it was measured. */
export interface TrainingCurveData {
  lossSteps: readonly number[];
  loss: readonly number[];
  valSteps: readonly number[];
  valPsnr: readonly number[];
  title?: string;
}

const W = 900;
const H = 560;

/** An exponential moving average, so that per-step noise does not hide the trend (the raw points stay, faint). */
function smooth(v: readonly number[], alpha: number): number[] {
  const out: number[] = [];
  let s = v[0] ?? 0;
  for (const x of v) out.push((s = alpha * s + (1 - alpha) * x));
  return out;
}

function ticks(lo: number, hi: number, n: number): number[] {
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / n));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= n) ?? step * 10;
  const out: number[] = [];
  for (let t = Math.ceil(lo / nice) * nice; t <= hi + 1e-12; t += nice) out.push(Number(t.toPrecision(6)));
  return out;
}

/** 1, 2, 5 × powers of ten inside [lo, hi] (fewer when the range spans many decades). */
function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  const decades = Math.log10(hi / lo);
  const mantissas = decades > 3 ? [1] : [1, 2, 5];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of mantissas) { const v = m * 10 ** e; if (v >= lo && v <= hi) out.push(v); }
  return out;
}

function panel(x0: number, y0: number, w: number, h: number, xs: readonly number[], series: { ys: readonly number[]; colour: string; width: number; opacity?: number; dots?: boolean }[], label: string, xMax: number, log: boolean): string {
  const all = series.flatMap((s) => s.ys).filter((v) => Number.isFinite(v) && (!log || v > 0));
  let lo = Math.min(...all), hi = Math.max(...all);
  if (!all.length) (lo = 0), (hi = 1);
  const f = (v: number): number => (log ? Math.log10(v) : v);
  const flo = f(lo), fhi = f(hi) === flo ? flo + 1 : f(hi);
  const px = (s: number): number => x0 + (s / Math.max(1, xMax)) * w;
  const py = (v: number): number => y0 + h - ((f(v) - flo) / (fhi - flo)) * h;
  let svg = `<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="#fff" stroke="#999"/>`;
  const yt = log ? logTicks(lo, hi) : ticks(lo, hi, 5);
  for (const t of yt) {
    const y = py(t);
    if (y < y0 - 0.5 || y > y0 + h + 0.5) continue;
    svg += `<line x1="${x0}" x2="${x0 + w}" y1="${y}" y2="${y}" stroke="#eee"/><text x="${x0 - 6}" y="${y + 4}" font-size="12" text-anchor="end" fill="#333">${t.toPrecision(3)}</text>`;
  }
  for (const t of ticks(0, xMax, 8)) svg += `<text x="${px(t)}" y="${y0 + h + 16}" font-size="12" text-anchor="middle" fill="#333">${t}</text>`;
  svg += `<text x="${x0 + 8}" y="${y0 + 18}" font-size="14" fill="#111">${label}</text>`;
  for (const s of series) {
    const pts = s.ys.map((v, i) => (Number.isFinite(v) && (!log || v > 0) ? `${px(xs[i]!).toFixed(1)},${py(v).toFixed(1)}` : '')).filter(Boolean);
    if (pts.length > 1) svg += `<polyline fill="none" stroke="${s.colour}" stroke-width="${s.width}" stroke-opacity="${s.opacity ?? 1}" points="${pts.join(' ')}"/>`;
    if (s.dots) for (const p of pts) svg += `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${s.colour}"/>`;
  }
  return svg;
}

/** The curve as an SVG document: training loss (log scale, raw and smoothed) above, validation PSNR below. */
export function trainingCurveSvg(d: TrainingCurveData): string {
  const xMax = Math.max(1, ...d.lossSteps, ...d.valSteps);
  const m = { l: 70, r: 20 };
  const w = W - m.l - m.r;
  let body = `<rect width="${W}" height="${H}" fill="#f7f7f7"/>`;
  body += `<text x="${W / 2}" y="24" font-size="16" text-anchor="middle" fill="#111">${escapeXml(d.title ?? 'training curve')}</text>`;
  body += panel(m.l, 40, w, 260, d.lossSteps, [
    { ys: d.loss, colour: '#1f77b4', width: 1, opacity: 0.25 },
    { ys: smooth(d.loss, 1 - 2 / (Math.max(1, d.loss.length / 40) + 1)), colour: '#1f77b4', width: 2 },
  ], 'training loss (per step; line: moving average)', xMax, true);
  body += panel(m.l, 340, w, 180, d.valSteps, [{ ys: d.valPsnr, colour: '#d62728', width: 2, dots: true }], 'validation PSNR-Y (dB)', xMax, false);
  body += `<text x="${W / 2}" y="${H - 6}" font-size="13" text-anchor="middle" fill="#333">step</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">${body}</svg>`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/** Renders {@link trainingCurveSvg} to a PNG at `path`, atomically. */
export async function writeTrainingCurve(path: string, d: TrainingCurveData): Promise<void> {
  const png = await sharp(Buffer.from(trainingCurveSvg(d))).png().toBuffer();
  await writeFileAtomic(path, png);
}

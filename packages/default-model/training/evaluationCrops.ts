import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

/** One held-out crop: the 8-bit HR pixels and where they came from. */
export interface EvaluationCrop {
  /** `image.png@x,y`. */
  id: string;
  side: number;
  hr: Uint8Array;
}

/**
 * The evaluation set: from every image of `dir`, three `side`² crops whose top-left corners sit at 1/4, 1/2 and 3/4
 * of the way along the diagonal of the positions a crop can take (a fixed, content-blind choice: the same crops for
 * every model compared).
 */
export async function evaluationCrops(dir: string, side = 256): Promise<EvaluationCrop[]> {
  const crops: EvaluationCrop[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.png')).sort()) {
    const { data, info } = await sharp(join(dir, name)).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.width < side || info.height < side) throw new Error(`${join(dir, name)}: ${info.width}×${info.height} is smaller than the ${side}² evaluation crop`);
    for (const f of [0.25, 0.5, 0.75]) {
      const x = Math.round((info.width - side) * f);
      const y = Math.round((info.height - side) * f);
      const hr = new Uint8Array(side * side * 3);
      for (let r = 0; r < side; r++) hr.set(data.subarray(((y + r) * info.width + x) * 3, ((y + r) * info.width + x + side) * 3), r * side * 3);
      crops.push({ id: `${name}@${x},${y}`, side, hr });
    }
  }
  return crops;
}

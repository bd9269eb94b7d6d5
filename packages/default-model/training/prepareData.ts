import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_MODEL_IMAGES, type SourceImage, preparedName } from './trainingImages.js';

/** The prepared folders: `train/` for `--data`, `holdout/` for `--val-data` and the evaluation. */
export interface PreparedData {
  train: string;
  holdout: string;
}

/**
 * Fetches the two Debian packages at their recorded versions (`apt-get download`: the package registry is the only
 * network used), extracts them (`dpkg-deb -x`) and writes each listed image as PNG, shrunk as listed, into
 * `dir/train` or `dir/holdout`. Idempotent: a complete earlier preparation is reused.
 */
export async function prepareDefaultModelData(dir: string, log: (line: string) => void = () => {}): Promise<PreparedData> {
  const out = { train: join(dir, 'train'), holdout: join(dir, 'holdout') };
  const want = (role: SourceImage['role']): string[] => DEFAULT_MODEL_IMAGES.filter((i) => i.role === role).map(preparedName).sort();
  const complete = (folder: string, role: SourceImage['role']): boolean => existsSync(folder) && readdirSync(folder).sort().join() === want(role).join();
  if (complete(out.train, 'train') && complete(out.holdout, 'holdout')) return out;

  const debs = join(dir, 'debs');
  const root = join(dir, 'extracted');
  mkdirSync(debs, { recursive: true });
  for (const pkg of new Set(DEFAULT_MODEL_IMAGES.map((i) => `${i.package}=${i.version}`))) {
    const [name, ver] = pkg.split('=') as [string, string];
    const file = readdirSync(debs).find((f) => f.startsWith(`${name}_${ver.replace(/:/g, '%3a')}_`) && f.endsWith('.deb'));
    let deb = file ? join(debs, file) : undefined;
    if (!deb) {
      log(`apt-get download ${pkg}`);
      try {
        execFileSync('apt-get', ['download', pkg], { cwd: debs, stdio: ['ignore', 'ignore', 'pipe'] });
      } catch (e) {
        throw new Error(`apt-get download ${pkg} failed (the default model's data comes from this Debian package): ${String((e as { stderr?: Buffer }).stderr ?? e).trim().split('\n').pop()}`);
      }
      const got = readdirSync(debs).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
      if (!got) throw new Error(`apt-get download ${pkg} wrote no .deb into ${debs}`);
      deb = join(debs, got);
    }
    log(`dpkg-deb -x ${deb}`);
    execFileSync('dpkg-deb', ['-x', deb, root]);
  }
  for (const role of ['train', 'holdout'] as const) {
    const folder = out[role];
    const tmp = `${folder}.partial`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    for (const img of DEFAULT_MODEL_IMAGES.filter((i) => i.role === role)) {
      const src = join(root, img.path);
      if (!existsSync(src)) throw new Error(`${src}: not in the extracted ${img.package} ${img.version}`);
      let pipeline = sharp(src).removeAlpha().toColourspace('srgb');
      if (img.shrink > 1) {
        const { width, height } = await sharp(src).metadata();
        pipeline = pipeline.resize(Math.round(width! / img.shrink), Math.round(height! / img.shrink), { kernel: 'lanczos3' });
      }
      await pipeline.png().toFile(join(tmp, preparedName(img)));
    }
    rmSync(folder, { recursive: true, force: true });
    renameSync(tmp, folder);
  }
  return out;
}

/** Where a training or evaluation image comes from: a Debian package that ships it, and its licence. */
export interface SourceImage {
  /** File name inside the package. */
  file: string;
  /** Path of the file inside the extracted package. */
  path: string;
  /** Debian package and the exact version the model was trained from. */
  package: 'mate-backgrounds' | 'python3-skimage';
  version: string;
  licence: string;
  /** Authors or origin, as the package's copyright file or the data module's docstring gives them. */
  credit: string;
  /**
   * Downscaling applied before use (the MATE wallpapers are 1280–2560 px JPEGs: halving them with Lanczos-3
   * removes most JPEG blocking, so the network learns photographs rather than compression artefacts).
   */
  shrink: 1 | 2;
  /** `train`, or `holdout`: never seen in training, used for validation during training and for the README table. */
  role: 'train' | 'holdout';
}

export const MATE_BACKGROUNDS_VERSION = '1.26.0-1';
export const PYTHON3_SKIMAGE_VERSION = '0.19.3-8';

const mate = (file: string, credit: string, role: SourceImage['role'] = 'train'): SourceImage => ({
  file,
  path: `usr/share/backgrounds/mate/nature/${file}`,
  package: 'mate-backgrounds',
  version: MATE_BACKGROUNDS_VERSION,
  licence: 'GPL-2+',
  credit,
  shrink: 2,
  role,
});

const skimage = (file: string, licence: string, credit: string, role: SourceImage['role'] = 'train'): SourceImage => ({
  file,
  path: `usr/lib/python3/dist-packages/skimage/data/${file}`,
  package: 'python3-skimage',
  version: PYTHON3_SKIMAGE_VERSION,
  licence,
  credit,
  shrink: 1,
  role,
});

/**
 * Every image the default model was trained or evaluated on. Only photographs: the UKUI wallpapers (CG art), and
 * scikit-image's synthetic and text images, the Middlebury motorcycle pair and the moon (no licence stated in the data
 * module) are left out.
 */
export const DEFAULT_MODEL_IMAGES: readonly SourceImage[] = [
  mate('Aqua.jpg', 'Charles Barbin, 2008'),
  mate('Blinds.jpg', 'Lennart Poettering, Andrea Cimitan, 2008'),
  mate('FreshFlower.jpg', 'Jens Ansorg, 2005'),
  mate('Garden.jpg', 'Charles Barbin, 2008'),
  mate('GreenMeadow.jpg', 'Timothy Schellhase, 2005; Lapo Calamandrei, 2008'),
  mate('RainDrops.jpg', '"blackcombwhistler07", 2008'),
  mate('Storm.jpg', 'Sergey Nazarov, 2008'),
  mate('TwoWings.jpg', 'Charles Barbin, Hylke Bons, 2008'),
  mate('Wood.jpg', 'Jean-François Fortin Tam, 2008'),
  mate('YellowFlower.jpg', 'Charles Barbin, 2008'),
  skimage('rocket.jpg', 'public domain', 'SpaceX'),
  skimage('hubble_deep_field.jpg', 'public domain', 'NASA'),
  skimage('retina.jpg', 'CC0 1.0', 'Häggström, Mikael (2014), Wikiversity Journal of Medicine'),
  skimage('ihc.png', 'no known copyright restrictions', 'Center for Microscopy And Molecular Imaging (CMMI)'),
  skimage('camera.png', 'CC0', 'Lav Varshney'),
  skimage('coins.png', 'no known copyright restrictions', 'Brooklyn Museum Collection'),
  skimage('brick.png', 'CC0', 'CC0Textures, Bricks25'),
  skimage('grass.png', 'CC0', 'CC0Textures'),
  skimage('gravel.png', 'CC0', 'CC0Textures, Gravel04'),
  skimage('astronaut.png', 'public domain', 'NASA (Eileen Collins)', 'holdout'),
  skimage('chelsea.png', 'CC0', 'Stefan van der Walt', 'holdout'),
  skimage('coffee.png', 'CC0', 'Rachel Michetti (Pikolo Espresso Bar)', 'holdout'),
  mate('LadyBird.jpg', 'Charles Barbin, 2008', 'holdout'),
  mate('Dune.jpg', 'Marco Cogoni, 2007; Hylke Bons, 2008', 'holdout'),
];

/** The name an image gets in the prepared data folders (always PNG: no second lossy encoding). */
export function preparedName(img: SourceImage): string {
  return img.file.replace(/\.(jpg|png)$/i, '.png');
}

// Image I/O (sharp): decode to [-1, 1] tensors, encode / write PNG, JPEG, WebP, TIFF.
export * from './rawImage.js';
export * from './imageFormat.js';
export * from './quantize.js';
export * from './probeImage.js';
export * from './readImage.js';
export * from './encodeImage.js';
export * from './writeImage.js';
export * from './resizeAlpha.js';

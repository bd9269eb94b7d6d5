export * from './promptClean.js';
export * from './htmlUnescape.js';
export * from './bpeVocabulary.js';
export * from './clipTokenizer.js';
export * from './openClipTextTower.js';
export * from './clipTextModel.js';
export * from './textConditioner.js';

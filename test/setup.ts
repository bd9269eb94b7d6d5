// Loaded by ava before every test file: chooses the tfjs backend once (STABLESR_BACKEND overrides auto).
import { initBackend } from '@stablesr/core';

export default async function setup(): Promise<void> {
  await initBackend();
}

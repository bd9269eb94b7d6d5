/** Names a model may have: they become parts of queue names and Redis keys. */
export const MODEL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Where the service keeps things in Redis. Queue names are BullMQ's (its keys are `bull:<queue>:…`); the blobs
 * (uploaded images, patch tensors, results) sit under `prefix:` as binary strings, never as JSON arrays.
 */
export class RedisLayout {
  constructor(readonly prefix = 'stablesr') {}
  /** Top-level jobs of a model: whole upscales, and the blend (parent) jobs of split ones. */
  jobsQueue(model: string): string {
    return `${this.prefix}-jobs-${model}`;
  }
  /** Pixel-patch (child) jobs of a model. */
  patchesQueue(model: string): string {
    return `${this.prefix}-patches-${model}`;
  }
  /** The child job id of patch `index` (BullMQ custom ids must not contain `:`). */
  patchJobId(id: string, index: number): string {
    return `${id}.p${index}`;
  }
  input(id: string): string {
    return `${this.prefix}:input:${id}`;
  }
  result(id: string): string {
    return `${this.prefix}:result:${id}`;
  }
  patch(id: string, index: number): string {
    return `${this.prefix}:patch:${id}:${index}`;
  }
  cancelled(id: string): string {
    return `${this.prefix}:cancelled:${id}`;
  }
  /** Which job id each public id belongs to (the model's queue), so that status needs no scan. */
  jobModel(id: string): string {
    return `${this.prefix}:job:${id}`;
  }
  /** Hash: model name → {@link ModelDescriptor} JSON, written by each worker when it starts. */
  get models(): string {
    return `${this.prefix}:models`;
  }
  /** Pub/sub channel of cancelled job ids. */
  get cancelChannel(): string {
    return `${this.prefix}:cancel`;
  }
}

/** Resolves on SIGTERM, or when `signal` (Ctrl-C, from the CLI's entry) aborts: the long-running commands' end. */
export function untilShutdown(signal?: AbortSignal): Promise<void> {
  return new Promise((ok) => {
    const done = () => {
      process.off('SIGTERM', done);
      signal?.removeEventListener('abort', done);
      ok();
    };
    process.once('SIGTERM', done);
    if (signal?.aborted) done();
    else signal?.addEventListener('abort', done, { once: true });
  });
}

// Runs an example's body and turns any failure into one line on stderr and exit status 1 (tfjs-wasm's
// own unhandled-rejection hook would otherwise print its minified source).
export function runMain(body: () => Promise<void>): void {
  body().catch((e: unknown) => {
    console.error(`\nerror: ${(e as Error)?.message?.split('\n')[0] ?? String(e)}`);
    if (process.env.DEBUG) console.error(e);
    process.exit(1);
  });
}

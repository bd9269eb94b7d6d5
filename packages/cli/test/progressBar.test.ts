import test from 'ava';
import { ProgressBar } from '@stablesr/cli';

function fakeTerminal(columns = 100) {
  const writes: string[] = [];
  return { sink: { write: (s: string) => void writes.push(s), columns }, writes };
}

test('draws stage, bar, counts, detail and an ETA from the stage rate', (t) => {
  const { sink, writes } = fakeTerminal();
  let now = 0;
  const bar = new ProgressBar(sink, () => now, 0);
  bar.update({ stage: 'sample', done: 0, total: 8, detail: { tile: '1/4' } });
  now = 2000; // 2 s for 2 units → 1 s per unit, 6 left
  bar.update({ stage: 'sample', done: 2, total: 8, detail: { tile: '3/4' } });
  const last = writes.at(-1)!;
  t.true(last.startsWith('\r\x1b[2K'));
  t.regex(last, /sample █+░+ 2\/8 25%  tile 3\/4  ETA 0:06$/);
  t.true(last.length - 5 < 100, 'fits the terminal');
});

test('a finished stage has no ETA and full bar; clear() erases the line', (t) => {
  const { sink, writes } = fakeTerminal(80);
  let now = 0;
  const bar = new ProgressBar(sink, () => now, 1000);
  bar.update({ stage: 'decode', done: 0, total: 2 }, '[1/3] a.png');
  now = 10; // inside the redraw interval: skipped
  bar.update({ stage: 'decode', done: 1, total: 2 }, '[1/3] a.png');
  t.is(writes.length, 1);
  now = 20; // completion is always drawn
  bar.update({ stage: 'decode', done: 2, total: 2 }, '[1/3] a.png');
  t.regex(writes.at(-1)!, /\[1\/3\] a\.png {2}decode █+ 2\/2 100%$/);
  bar.clear();
  t.is(writes.at(-1), '\r\x1b[2K');
});

test('without a terminal it writes nothing', (t) => {
  const bar = new ProgressBar(undefined);
  t.notThrows(() => {
    bar.update({ stage: 'sample', done: 1, total: 2 });
    bar.clear();
  });
});

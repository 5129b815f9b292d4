import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedText, runFfmpeg } from '../../infra/ffmpeg/run-ffmpeg.ts';
import { locateFfmpeg } from '../../infra/ffmpeg/locate.ts';

describe('BoundedText', () => {
  it('keeps everything under the limits', () => {
    const text = new BoundedText(10, 10);
    text.push(Buffer.from('hello '));
    text.push(Buffer.from('world'));
    assert.equal(text.text(), 'hello world');
    assert.equal(text.truncated, false);
  });

  it('keeps the head and the tail and says how much it dropped', () => {
    const text = new BoundedText(4, 6);
    for (let i = 0; i < 100; i++) text.push(Buffer.from(`${i % 10}`));
    assert.equal(text.truncated, true);
    assert.equal(text.text(), '0123\n[… 90 bytes of ffmpeg output omitted …]\n456789');
  });

  it('stays bounded for a large stream', () => {
    const text = new BoundedText(1024, 1024);
    const chunk = Buffer.alloc(4096, 'x');
    for (let i = 0; i < 1000; i++) text.push(chunk);
    assert.ok(text.text().length < 3000);
  });
});

describe('runFfmpeg', () => {
  it('returns exit code and stderr, never using a shell', async () => {
    const ffmpeg = await locateFfmpeg();
    const result = await runFfmpeg(ffmpeg, ['-hide_banner', '-i', 'file:/nonexistent/$(touch x)/in.wav']);
    assert.equal(result.code, 1);
    assert.equal(result.timedOut, false);
    assert.match(result.stderr, /file:\/nonexistent\/\$\(touch x\)\/in\.wav: No such file or directory/);
  });

  it('kills a run that exceeds its timeout', async () => {
    const ffmpeg = await locateFfmpeg();
    const started = Date.now();
    const result = await runFfmpeg(ffmpeg, ['-hide_banner', '-re', '-f', 'lavfi', '-i', 'sine', '-f', 'null', '-'], { timeoutMs: 300 });
    assert.equal(result.timedOut, true);
    assert.equal(result.signal, 'SIGKILL');
    assert.equal(result.code, null);
    assert.ok(Date.now() - started < 5000);
  });

  it('stops on abort', async () => {
    const ffmpeg = await locateFfmpeg();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const result = await runFfmpeg(ffmpeg, ['-hide_banner', '-re', '-f', 'lavfi', '-i', 'sine', '-f', 'null', '-'], { signal: controller.signal });
    assert.equal(result.aborted, true);
  });

  it('rejects when the binary cannot be started', async () => {
    await assert.rejects(runFfmpeg('/nonexistent/ffmpeg', ['-version']), /could not start ffmpeg \(\/nonexistent\/ffmpeg\): spawn \/nonexistent\/ffmpeg ENOENT/);
  });
});

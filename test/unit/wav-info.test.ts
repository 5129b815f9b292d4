import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wavDeclaredDuration } from '../../infra/audio/wav-info.ts';

/** A RIFF/WAVE header: `fmt ` (PCM), the given extra chunks, then a `data` chunk header of `dataBytes`. */
function wavHead(options: { sampleRate?: number; channels?: number; bits?: number; dataBytes: number; extra?: [id: string, body: Buffer][] }): Buffer {
  const { sampleRate = 44100, channels = 2, bits = 16, dataBytes, extra = [] } = options;
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(1, 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(sampleRate, 4);
  fmt.writeUInt32LE((sampleRate * channels * bits) / 8, 8);
  fmt.writeUInt16LE((channels * bits) / 8, 12);
  fmt.writeUInt16LE(bits, 14);
  const chunk = (id: string, body: Buffer, size = body.length): Buffer => {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(size, 4);
    return Buffer.concat([head, body, Buffer.alloc(body.length % 2)]);
  };
  const chunks = Buffer.concat([chunk('fmt ', fmt), ...extra.map(([id, body]) => chunk(id, body)), chunk('data', Buffer.alloc(0), dataBytes)]);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(Math.min(0xffffffff, 4 + chunks.length + dataBytes), 4);
  riff.write('WAVE', 8, 'latin1');
  return Buffer.concat([riff, chunks]);
}

test('the data chunk size over the byte rate, whatever chunks come first', () => {
  assert.equal(wavDeclaredDuration(wavHead({ dataBytes: 44100 * 4 * 3 })), 3);
  assert.equal(wavDeclaredDuration(wavHead({ sampleRate: 96000, channels: 6, bits: 24, dataBytes: 96000 * 18 })), 1);
  // A LIST chunk of odd length (padded to even) and a bext chunk before the data.
  const extra: [string, Buffer][] = [['LIST', Buffer.from('INFOISFT\u0005\u0000\u0000\u0000Lavf\u0000', 'latin1')], ['bext', Buffer.alloc(602)]];
  assert.equal(wavDeclaredDuration(wavHead({ sampleRate: 8000, channels: 1, dataBytes: 16000 * 2.5, extra })), 2.5);
});

test('nothing declared: streaming placeholders, other formats, a header cut before its data chunk', () => {
  assert.equal(wavDeclaredDuration(wavHead({ dataBytes: 0 })), null);
  assert.equal(wavDeclaredDuration(wavHead({ dataBytes: 0xffffffff })), null);
  assert.equal(wavDeclaredDuration(wavHead({ dataBytes: 0x7ffffff0 })), null);
  const rf64 = wavHead({ dataBytes: 1000 });
  rf64.write('RF64', 0, 'latin1');
  assert.equal(wavDeclaredDuration(rf64), null);
  assert.equal(wavDeclaredDuration(Buffer.from('fLaC\u0000\u0000\u0000\u0022', 'latin1')), null);
  const head = wavHead({ dataBytes: 1000, extra: [['LIST', Buffer.alloc(200)]] });
  assert.equal(wavDeclaredDuration(head.subarray(0, 100)), null, 'the data chunk is past the bytes given');
  assert.equal(wavDeclaredDuration(Buffer.alloc(0)), null);
});

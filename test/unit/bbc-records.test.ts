/** BBC record building: caption, tags, locations. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { categoryTags, mediaUrl, recordFromCsvRow } from '../../sources/bbc/records.ts';

describe('BBC records', () => {
  const options = { source: 'bbc', mediaBase: 'https://sound-effects-media.bbcrewind.co.uk/wav/', license: 'bbc-remarc' };
  it('caption = description; tags = category parts + CD name', () => {
    const record = recordFromCsvRow({ location: '07076051.wav', description: ' Two-stroke  engine, start. ', secs: '194', category: 'Engines: Petrol', CDNumber: 'EC117D', CDName: 'Diesel & Petrol Engines', tracknum: '4' }, 2, options);
    assert.equal(record.id, '07076051');
    assert.equal(record.audio, 'https://sound-effects-media.bbcrewind.co.uk/wav/07076051.wav');
    assert.deepEqual(record.text, ['Two-stroke engine, start.']);
    assert.deepEqual(record.tags, ['Engines', 'Petrol', 'Diesel & Petrol Engines']);
    assert.equal(record.original.secs, 194);
    assert.equal(record.invalid, undefined);
  });
  it('marks rows without a usable location invalid, never builds a path from them', () => {
    assert.match(recordFromCsvRow({ location: '../../etc/passwd', description: 'x' }, 9, options).invalid!, /line 9: unusable location/);
    assert.deepEqual(categoryTags(''), ['']);
    assert.equal(mediaUrl('https://m.example/wav', 'a b.wav'), 'https://m.example/wav/a%20b.wav');
  });
});

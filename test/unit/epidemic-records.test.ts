/** Epidemic Sound record building: LAION captions and deterministic track order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { orderedTrackIds, soundsOfCaption, titleCaption as epidemicTitle } from '../../sources/epidemic/records.ts';

describe('Epidemic captions', () => {
  it('title without trailing digits; "the sounds of a, b, and c."', () => {
    assert.equal(epidemicTitle('Door Creak 12'), 'Door Creak');
    assert.equal(epidemicTitle('Boing Spring  22 '), 'Boing Spring');
    assert.equal(epidemicTitle('123'), null);
    assert.equal(soundsOfCaption(['wood', 'fire', 'crackle']), 'the sounds of wood, fire, and crackle.');
    assert.equal(soundsOfCaption(['door', 'creak']), 'the sounds of door, and creak.'); // LAION's formula
    assert.equal(soundsOfCaption(['dog']), 'the sounds of dog.');
    assert.equal(soundsOfCaption([]), null);
  });
  it('orders track keys numerically, whatever their insertion order', () => {
    assert.deepEqual(orderedTrackIds({ '5000000001': 1, '900': 1, '70000': 1, abc: 1, '5000000000': 1 }), ['900', '70000', '5000000000', '5000000001', 'abc']);
  });
});

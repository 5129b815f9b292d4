import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRules, excludedIdsFile, exclusionReason, parseIdList, withExcludedIds } from '../../crawl/exclusion-rules.ts';
import { LAION_AUDIO_630K_SOURCES, laionAudio630kCrawls } from '../../crawl/recipes/laion-audio-630k.ts';
import { applySettings, givenPaths, parseSetting, parseSourceSpec, settingsFrom } from '../../crawl/source-settings.ts';
import { crawlExclusionsSchema, excludedIdsRefSchema } from '../../schemas/exclusions.ts';

describe('--set key=value', () => {
  it('reads values as JSON when they parse, else as strings', () => {
    assert.deepEqual(parseSetting('pageSize=50'), { path: ['pageSize'], value: 50, text: 'pageSize=50' });
    assert.equal(parseSetting('query=dog bark').value, 'dog bark');
    assert.equal(parseSetting('query="1984"').value, '1984');
    assert.equal(parseSetting('maxDuration=null').value, null);
    assert.deepEqual(parseSetting('categories=["Animals","Foley"]').value, ['Animals', 'Foley']);
    assert.equal(parseSetting('filter=license:"Creative Commons 0"').value, 'license:"Creative Commons 0"');
    assert.equal(parseSetting('root=/mnt/a=b').value, '/mnt/a=b', 'split at the first =');
    assert.equal(parseSetting('query=').value, '');
  });

  it('refuses a setting without a key and keys that reach a prototype', () => {
    assert.throws(() => parseSetting('pageSize'), /expected key=value/);
    assert.throws(() => parseSetting('=5'), /expected key=value/);
    assert.throws(() => parseSetting('a..b=1'), /bad key/);
    assert.throws(() => parseSetting('__proto__.polluted=1'), /bad key/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('writes dotted keys into nested objects and lists, later settings winning', () => {
    const base = { type: 'freesound', rate: [{ limit: 60, windowMs: 60000 }] };
    const out = applySettings(base, ['oauthEnv.accessToken=MY_TOKEN', 'rate.0.limit=30', 'pageSize=10', 'pageSize=20'].map(parseSetting));
    assert.deepEqual(out, { type: 'freesound', rate: [{ limit: 30, windowMs: 60000 }], oauthEnv: { accessToken: 'MY_TOKEN' }, pageSize: 20 });
    assert.equal(base.rate[0]!.limit, 60, 'the input is not modified');
  });

  it('validates the spec: errors name the field and the value, unknown settings included', () => {
    const parse = (settings: string[], input: Record<string, unknown> = {}) => {
      const parsed = settings.map(parseSetting);
      return parseSourceSpec(applySettings({ type: 'freesound', ...input }, parsed), givenPaths(input, parsed), 'crawl options');
    };
    assert.equal(parse(['pageSize=50', 'oauthEnv.clientId=ID_VAR']).type, 'freesound');
    assert.throws(() => parse(['pageSize=500']), /invalid crawl options: source\.pageSize: .*\(got 500\)/);
    assert.throws(() => parse(['pagesize=50']), /source\.pagesize: not a setting of freesound sources \(got 50\)/);
    assert.throws(() => parse(['oauthEnv.bogus="x"']), /source\.oauthEnv\.bogus: not a setting of freesound sources \(got "x"\)/);
    assert.throws(() => parse([], { root: '/mnt/x' }), /source\.root: not a setting of freesound sources \(got "\/mnt\/x"\)/);
    assert.throws(() => parseSourceSpec({ type: 'soundcloud' }, [], 'crawl options'), /source\.type: unknown source type; one of local, .*audiostock \(got "soundcloud"\)/);
  });
});

describe('exclusion rules', () => {
  it('reads id lists: trimmed, comments and blanks skipped, unique and sorted', () => {
    assert.deepEqual(parseIdList('# ESC-50 overlap\r\n 300 \n100\n\n200\n100\n'), ['100', '200', '300']);
    const file = excludedIdsFile('freesound', ['100', '200']);
    assert.equal(file.text, '100\n200\n');
    assert.equal(excludedIdsRefSchema.parse(file.ref).count, 2);
    assert.match(file.ref.key, /^_crawl\/freesound\.exclude-ids\.[0-9a-f]{12}\.txt$/);
    assert.notEqual(excludedIdsFile('freesound', ['100']).ref.key, file.ref.key, 'another list never replaces this one');
  });

  it('excludes by id first, then by licence (case-insensitive, exact or prefix); no licence, no licence rule', () => {
    const rules = compileRules({ licenses: ['Sampling+'], licensePrefixes: ['cc-by-nc'] }, ['7']);
    assert.equal(exclusionReason({ id: '7', license: 'cc0' }, rules), 'id');
    assert.equal(exclusionReason({ id: '7', license: 'cc-by-nc-4.0' }, rules), 'id');
    assert.equal(exclusionReason({ id: '1', license: 'CC-BY-NC-3.0' }, rules), 'license');
    assert.equal(exclusionReason({ id: '1', license: 'sampling+' }, rules), 'license');
    assert.equal(exclusionReason({ id: '1', license: 'cc-by-4.0' }, rules), null);
    assert.equal(exclusionReason({ id: '1', license: null }, rules), null);
  });

  it('attaches an id list to a crawl job by reference', () => {
    const [crawl] = laionAudio630kCrawls({ dataset: { uri: '/d' }, settings: settingsFrom(REQUIRED) });
    const { crawl: excluding, file } = withExcludedIds(crawl!, ['1', '2']);
    assert.deepEqual(excluding.exclude, crawlExclusionsSchema.parse({ ids: file.ref }));
    assert.equal(crawl!.exclude.ids, null);
  });
});

const REQUIRED = {
  epidemic: { categories: ['Animals'] },
  bbc: { index: '/b/BBCSoundEffects.csv' },
  sonniss: { root: '/b/sonniss.zip' },
  'free-to-use-sounds': { root: 'https://mirror.lan/ftus/' },
  'we-sound-effects': { root: '/b/wse' },
  odeon: { root: '/b/odeon' },
};

describe('the laion-audio-630k recipe', () => {
  it('makes one crawl per provider into one dataset, LAION filters on Freesound only (API and crawl)', () => {
    const crawls = laionAudio630kCrawls({ dataset: { uri: '/data/laion', shardSize: 256 }, settings: settingsFrom(REQUIRED), exclude: { licenses: [], licensePrefixes: ['cc-by-nc'] } });
    assert.deepEqual(crawls.map((c) => c.source.type), [...LAION_AUDIO_630K_SOURCES]);
    for (const crawl of crawls) {
      assert.equal(crawl.dataset.uri, '/data/laion');
      assert.equal(crawl.dataset.shardSize, 256);
      assert.deepEqual(crawl.dataset.filters, { maxDurationSec: null, minSampleRate: null });
      assert.deepEqual(crawl.exclude.licensePrefixes, ['cc-by-nc']);
    }
    const [freesound, ...others] = crawls;
    assert.deepEqual(freesound!.filters, { maxDurationSec: 180, minSampleRate: 16000 });
    assert.ok(freesound!.source.type === 'freesound' && freesound!.source.maxDuration === 180 && freesound!.source.minSampleRate === 16000);
    for (const crawl of others) assert.equal(crawl.filters, null, `${crawl.source.name} unfiltered`);
  });

  it('takes --set <source>.<key>=value; the Freesound limits move API and crawl filters together', () => {
    const settings = [...settingsFrom(REQUIRED), ...['freesound.maxDuration=60', 'freesound.minSampleRate=null', 'bbc.mode=search', 'sonniss.name=sonniss-gdc2024-1'].map(parseSetting)];
    const crawls = laionAudio630kCrawls({ dataset: { uri: '/d' }, settings });
    const freesound = crawls[0]!;
    assert.deepEqual(freesound.filters, { maxDurationSec: 60, minSampleRate: null });
    assert.ok(freesound.source.type === 'freesound' && freesound.source.maxDuration === 60);
    const bbc = crawls.find((c) => c.source.type === 'bbc')!.source;
    assert.ok(bbc.type === 'bbc' && bbc.mode === 'search');
    assert.equal(crawls.find((c) => c.source.type === 'sonniss')!.source.name, 'sonniss-gdc2024-1');
  });

  it('names every --set key that has no safe default', () => {
    assert.throws(
      () => laionAudio630kCrawls({ dataset: { uri: '/d' }, settings: settingsFrom({ sonniss: { root: '/b/s.zip' } }) }),
      (error: Error) => {
        for (const key of ['epidemic.categories', 'bbc.index', 'free-to-use-sounds.root', 'we-sound-effects.root', 'odeon.root']) assert.match(error.message, new RegExp(`--set ${key}=`));
        assert.doesNotMatch(error.message, /sonniss\.root/);
        return true;
      },
    );
  });

  it('refuses unknown sources, fixed types and bad values, naming them', () => {
    const build = (...extra: string[]) => laionAudio630kCrawls({ dataset: { uri: '/d' }, settings: [...settingsFrom(REQUIRED), ...extra.map(parseSetting)] });
    assert.throws(() => build('soundcloud.query=x'), /--set soundcloud\.query=x: .*<source> one of freesound, bbc/);
    assert.throws(() => build('freesound=1'), /<source>\.<key>=value/);
    assert.throws(() => build('bbc.type=local'), /type is fixed/);
    assert.throws(() => build('freesound.pageSize=500'), /laion-audio-630k recipe, source freesound: source\.pageSize: .*\(got 500\)/);
    assert.throws(() => build('epidemic.root=/x'), /source\.root: not a setting of epidemic sources/);
  });
});

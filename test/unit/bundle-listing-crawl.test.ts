import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crawlListing, type FetchListingPage, type ListedFile } from '../../sources/bundle/listing-crawl.ts';

const ROOT = 'http://mirror.test/b/';

/** Listing pages in nginx style, links in the order given (deliberately unsorted). */
function pages(tree: Record<string, string[]>, redirects: Record<string, string> = {}): { fetch: FetchListingPage; asked: string[] } {
  const asked: string[] = [];
  const fetch: FetchListingPage = async (url) => {
    asked.push(url);
    const final = redirects[url] ?? url;
    const links = tree[final];
    if (links === undefined) return null;
    return { url: final, html: `<pre><a href="../">../</a>\n${links.map((l) => `<a href="${l}">${l}</a>`).join('\n')}</pre>` };
  };
  return { fetch, asked };
}

async function crawl(fetch: FetchListingPage): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  for await (const file of crawlListing(ROOT, fetch)) out.push(file);
  return out;
}

describe('crawling a directory listing', () => {
  it('walks nested folders depth first in byte order of the decoded path, whatever order the pages list', async () => {
    const { fetch } = pages({
      [ROOT]: ['zeta.wav', 'Foley/', 'Foley%20Extra/', 'Ambience/', '%C3%89t%C3%A9.wav', 'a.WAV', 'notes.txt'],
      [`${ROOT}Foley/`]: ['Steps/', 'door.aiff', 'Door%20Slam.wav'],
      [`${ROOT}Foley/Steps/`]: ['gravel.wav'],
      [`${ROOT}Foley%20Extra/`]: ['x.flac'],
      [`${ROOT}Ambience/`]: ['rain.wav', '.hidden.wav', '._rain.wav'],
    });
    const files = await crawl(fetch);
    assert.deepEqual(files.map((f) => f.path), [
      'Ambience/rain.wav',
      'Foley Extra/x.flac',
      'Foley/Door Slam.wav',
      'Foley/Steps/gravel.wav',
      'Foley/door.aiff',
      'a.WAV',
      'zeta.wav',
      'Été.wav',
    ]);
    assert.deepEqual(files.map((f) => f.encodedPath).slice(1, 3), ['Foley%20Extra/x.flac', 'Foley/Door%20Slam.wav']);
  });

  it('never enters hidden folders, __MACOSX or folders whose name escapes; yields escaping file names to be refused', async () => {
    const { fetch, asked } = pages({
      [ROOT]: ['.git/', '__MACOSX/', '..%2F/', 'ok/', '..%2Fevil.wav'],
      [`${ROOT}ok/`]: ['fine.wav'],
    });
    const files = await crawl(fetch);
    assert.deepEqual(files.map((f) => [f.path, f.encodedPath]), [['../evil.wav', '..%2Fevil.wav'], ['ok/fine.wav', 'ok/fine.wav']]);
    assert.deepEqual(asked, [ROOT, `${ROOT}ok/`]);
  });

  it('skips folders the server will not list and reads each folder once even when redirects loop', async () => {
    const { fetch, asked } = pages(
      {
        [ROOT]: ['private/', 'loop/', 'real/'],
        [`${ROOT}real/`]: ['x.wav', 'again/'],
      },
      { [`${ROOT}loop/`]: `${ROOT}real/`, [`${ROOT}real/again/`]: ROOT },
    );
    const files = await crawl(fetch);
    // loop/ redirects to real/: its files are listed under the first name that reached them.
    assert.deepEqual(files.map((f) => f.path), ['loop/x.wav']);
    // Links resolve against the page as served (after its redirect): again/ is asked for below real/.
    assert.deepEqual(asked, [ROOT, `${ROOT}loop/`, `${ROOT}real/again/`, `${ROOT}private/`, `${ROOT}real/`]);
  });
});

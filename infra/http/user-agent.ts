import { CLAPSET_VERSION } from '../version.ts';

/**
 * An identifiable User-Agent, `clapset/<version> (+<contact>)`, so a provider's operator can tell who
 * is crawling and reach them (CLAPSET_CONTACT: a URL or an e-mail address). Without a contact it is
 * still identifiable, just not reachable — the client warns once.
 */
export function userAgent(contact: string | undefined): string {
  const clean = contact?.replace(/[\r\n()]/g, ' ').trim();
  return clean ? `clapset/${CLAPSET_VERSION} (+${clean})` : `clapset/${CLAPSET_VERSION}`;
}

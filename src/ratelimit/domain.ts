// Domain-name normalization shared by the rate-limit file, the public suffix
// list and the sigsum-token header, so that two spellings of one DNS name
// (case, Unicode compatibility forms, U-label vs A-label) land on the same
// counter. Mirrors sigsum-go's submit-token NormalizeDomainName (NFKC,
// lowercase, round trip through the A-label form), using the WHATWG
// domainToASCII/domainToUnicode that ship with Node instead of Go's idna.
import { domainToASCII, domainToUnicode } from 'node:url';

const MAX_NAME_LENGTH = 253;
const LABEL_RE = /^[a-z0-9_-]{1,63}$/;
const NUMERIC_RE = /^[0-9]+$/;

export class DomainError extends Error {}

export interface NormalizedDomain {
  /** The canonical form: lowercase U-labels. Used as counter and allow-list key. */
  readonly name: string;
  /** The same name in A-label (punycode) form, as sent to DNS. */
  readonly ascii: string;
}

/** Normalizes a UTF-8 or A-label domain name; throws DomainError if it is not a usable DNS name. */
export function normalizeDomain(domain: string): NormalizedDomain {
  const lower = domain.normalize('NFKC').toLowerCase();
  const ascii = domainToASCII(lower);
  if (ascii === '') throw new DomainError(`invalid domain name ${JSON.stringify(domain)}`);
  checkAsciiName(domain, ascii);
  const name = domainToUnicode(ascii);
  // Like sigsum-go: an A-label that decodes to something the first steps
  // would have changed is not in canonical form, so two names could collide.
  if (name === '' || name.normalize('NFKC') !== name || name.toLowerCase() !== name) {
    throw new DomainError(`domain name ${JSON.stringify(domain)} does not decode to a normalized name`);
  }
  return { name, ascii };
}

function checkAsciiName(original: string, ascii: string): void {
  if (ascii.length > MAX_NAME_LENGTH) {
    throw new DomainError(`domain name ${JSON.stringify(original)} is longer than ${MAX_NAME_LENGTH} characters`);
  }
  const labels = ascii.split('.');
  for (const label of labels) {
    if (!LABEL_RE.test(label)) {
      throw new DomainError(`invalid domain name ${JSON.stringify(original)}: bad label ${JSON.stringify(label)}`);
    }
  }
  // The WHATWG host parser turns names like "0x7f.1" into IPv4 addresses; no
  // top-level domain is numeric, so refusing that shape rejects them all.
  if (NUMERIC_RE.test(labels[labels.length - 1] ?? '')) {
    throw new DomainError(`invalid domain name ${JSON.stringify(original)}: numeric top-level label`);
  }
}

/** The name and each parent obtained by dropping leading labels: a.b.c, b.c, c. */
export function* domainAndParents(name: string): Generator<string> {
  let s = name;
  for (;;) {
    yield s;
    const dot = s.indexOf('.');
    if (dot < 0) return;
    s = s.slice(dot + 1);
  }
}

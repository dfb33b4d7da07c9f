// The public suffix list (https://publicsuffix.org/list/), used to find the
// "registered domain" that public submissions are counted under, so that one
// registrant cannot multiply its allowance by using many subdomains.
import { DomainError, normalizeDomain } from './domain.js';

export interface PublicSuffixList {
  /**
   * The matching public suffix plus one label, or the name itself when it
   * is a suffix; undefined when no rule matches. Unlike the list's implicit
   * "*" rule, unknown top-level domains are not registrable (as in log-go),
   * so a name under a made-up TLD cannot claim public access.
   * Expects a name already normalized by normalizeDomain.
   */
  registeredDomain(name: string): string | undefined;
}

/** Parses the list's text format; throws Error with a line number on malformed input. */
export function parsePublicSuffixList(text: string): PublicSuffixList {
  const plain = new Set<string>();
  // "*.ck" is stored as ck -> set of exception labels ("!www.ck" adds "www").
  const wildcards = new Map<string, Set<string>>();
  const exceptions: Array<{ label: string; parent: string; line: number }> = [];

  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    // The list's format defines a rule as the line's first whitespace-delimited field.
    const rule = lines[i]!.trim().split(/\s+/)[0] ?? '';
    if (rule === '') continue;
    if (rule.startsWith('/')) {
      if (!rule.startsWith('//')) throw new Error(`public suffix list line ${lineNo}: malformed comment`);
      continue;
    }
    try {
      if (rule.startsWith('!')) {
        const name = normalizeDomain(rule.slice(1)).name;
        const dot = name.indexOf('.');
        if (dot < 0) throw new Error(`exception rule ${JSON.stringify(rule)} needs at least two labels`);
        exceptions.push({ label: name.slice(0, dot), parent: name.slice(dot + 1), line: lineNo });
      } else if (rule.startsWith('*')) {
        if (!rule.startsWith('*.')) throw new Error(`invalid wildcard rule ${JSON.stringify(rule)}`);
        const parent = normalizeDomain(rule.slice(2)).name;
        if (!wildcards.has(parent)) wildcards.set(parent, new Set());
      } else {
        plain.add(normalizeDomain(rule).name);
      }
    } catch (e) {
      const why = e instanceof DomainError || e instanceof Error ? e.message : String(e);
      throw new Error(`public suffix list line ${lineNo}: ${why}`);
    }
  }
  // Exceptions may precede their wildcard in the file, hence a second pass.
  for (const { label, parent, line } of exceptions) {
    const set = wildcards.get(parent);
    if (set === undefined) {
      throw new Error(`public suffix list line ${line}: exception for non-existent wildcard *.${parent}`);
    }
    set.add(label);
  }

  function suffixOf(name: string): string | undefined {
    let s = name;
    for (;;) {
      if (plain.has(s)) return s;
      const dot = s.indexOf('.');
      if (dot < 0) return undefined;
      const label = s.slice(0, dot);
      const parent = s.slice(dot + 1);
      const except = wildcards.get(parent);
      if (except !== undefined) {
        // An exception makes the name itself registrable, under its parent.
        return except.has(label) ? parent : s;
      }
      s = parent;
    }
  }

  return {
    registeredDomain(name: string): string | undefined {
      const suffix = suffixOf(name);
      if (suffix === undefined) return undefined;
      if (suffix === name) return name;
      const rest = name.slice(0, name.length - suffix.length - 1);
      const dot = rest.lastIndexOf('.');
      return dot < 0 ? name : name.slice(dot + 1);
    },
  };
}

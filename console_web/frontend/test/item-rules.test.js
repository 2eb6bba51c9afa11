import { describe, expect, it } from 'vitest';

import { HOSTNAME_FIELD_MAX, TEXT_MAX, codePoints, lengthProblems, maxlengthFor, splitHostPort } from '../src/item-rules.js';

describe('the Jump Item editor counts lengths as the API does (code points)', () => {
  it('has the limits of the API: name 128, tag 64 (TAG_MAX), and room for :port after a 253-character host', () => {
    expect(TEXT_MAX.name).toBe(128);
    expect(TEXT_MAX.tag).toBe(64);
    expect(HOSTNAME_FIELD_MAX).toBe(261);
  });

  it('counts an emoji once, where a maxlength attribute counts it twice', () => {
    const emoji = '\u{1F600}';
    expect(emoji.length).toBe(2);
    expect(codePoints(emoji.repeat(100))).toBe(100);
  });

  it('accepts a name of 100 emoji (the API takes 128 characters), which maxlength 128 would cut to 64', () => {
    const name = '\u{1F600}'.repeat(100);
    expect(lengthProblems({ name })).toEqual({});
    expect(name.length).toBeGreaterThan(TEXT_MAX.name);
    expect(maxlengthFor(TEXT_MAX.name)).toBeGreaterThanOrEqual(name.length);
  });

  it('refuses a name of 129 characters and a tag of 65, naming the limit', () => {
    const problems = lengthProblems({ name: 'n'.repeat(129), tag: 't'.repeat(65) });
    expect(problems.name).toBe('A name has at most 128 characters (this one has 129).');
    expect(problems.tag).toBe('A tag has at most 64 characters (this one has 65).');
  });

  it('takes a tag of exactly 64 characters, also 64 emoji', () => {
    expect(lengthProblems({ tag: 't'.repeat(64) })).toEqual({});
    expect(lengthProblems({ tag: '\u{1F600}'.repeat(64) })).toEqual({});
    expect(lengthProblems({ tag: '\u{1F600}'.repeat(65) }).tag).toMatch(/at most 64/);
  });
});

describe('a port given with the hostname ("Hostname/IP (with optional :port)")', () => {
  it('is read from host:port and [v6]:port', () => {
    expect(splitHostPort('127.0.0.1:2222')).toEqual({ host: '127.0.0.1', port: 2222 });
    expect(splitHostPort(' web01.example.com:22 ')).toEqual({ host: 'web01.example.com', port: 22 });
    expect(splitHostPort('[::1]:2200')).toEqual({ host: '::1', port: 2200 });
  });

  it('is not found in a bare host, a bare IPv6 address, [v6] alone, or an unfinished or impossible port', () => {
    for (const text of ['web01', '::1', 'fe80::1', '[::1]', 'web01:', 'web01:0', 'web01:65536', 'web01:22a', 'a:b:22']) {
      expect(splitHostPort(text).port, text).toBeNull();
      expect(splitHostPort(text).host, text).toBe(text);
    }
  });
});

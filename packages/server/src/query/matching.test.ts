import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueryError } from './errors.js';
import {
  combineDateTimeRange,
  foldForFuzzy,
  fuzzyPersonNameMatches,
  fuzzyPrefilterGlob,
  globLiteral,
  literalPrefix,
  parseDateTerm,
  parseTimeTerm,
  parseUidTerm,
  personNameQuery,
  timeBound,
  wildcardToGlob,
  wildcardToLike,
} from './matching.js';

test('wildcardToGlob - keeps * and ?, escapes brackets, leaves % and _ literal', () => {
  assert.equal(wildcardToGlob('AB*C?'), 'AB*C?');
  assert.equal(wildcardToGlob('50%_[x]*'), '50%_[[]x[]]*');
});

test('globLiteral - every GLOB special matches itself', () => {
  assert.equal(globLiteral('a*b?[c]'), 'a[*]b[?][[]c[]]');
});

test('wildcardToLike - escapes % _ and the escape character itself', () => {
  assert.equal(wildcardToLike('A%B_C\\D*E?'), 'A\\%B\\_C\\\\D%E_');
});

test('literalPrefix - the part before the first wildcard', () => {
  assert.equal(literalPrefix('DOE^J*'), 'DOE^J');
  assert.equal(literalPrefix('?OE'), '');
  assert.equal(literalPrefix('DOE'), 'DOE');
});

test('parseDateTerm - single, closed, open ranges and ACR-NEMA dates', () => {
  assert.deepEqual(parseDateTerm('StudyDate', '20240115'), { type: 'equal', value: '20240115' });
  assert.deepEqual(parseDateTerm('StudyDate', '20240101-20240131'), { type: 'range', lower: '20240101', upper: '20240131' });
  assert.deepEqual(parseDateTerm('StudyDate', '-20240131'), { type: 'range', lower: undefined, upper: '20240131' });
  assert.deepEqual(parseDateTerm('StudyDate', '20240101-'), { type: 'range', lower: '20240101', upper: undefined });
  assert.deepEqual(parseDateTerm('StudyDate', '2024.01.15'), { type: 'equal', value: '20240115' });
  for (const bad of ['2024', '20241301', '-', '1-2-3', '20240201-20240101']) {
    assert.throws(() => parseDateTerm('StudyDate', bad), (e: unknown) => e instanceof QueryError && e.code === 'ATRIUM_ERR_QUERY_INVALID_VALUE', bad);
  }
});

test('timeBound - lower bounds pad with zeros, upper bounds with the maximum', () => {
  assert.equal(timeBound('10', 'lower'), '100000.000000');
  assert.equal(timeBound('10', 'upper'), '105959.999999');
  assert.equal(timeBound('1015', 'upper'), '101559.999999');
  assert.equal(timeBound('101530.5', 'upper'), '101530.599999');
  assert.equal(timeBound('10:15', 'lower'), '101500.000000');
  assert.equal(timeBound('25', 'lower'), null);
});

test('parseTimeTerm - a single time is the span it names', () => {
  assert.deepEqual(parseTimeTerm('StudyTime', '1015'), { type: 'range', lower: '101500.000000', upper: '101559.999999' });
  assert.deepEqual(parseTimeTerm('StudyTime', '-0800'), { type: 'range', lower: undefined, upper: '080059.999999' });
});

test('combineDateTimeRange - missing time bounds are the start and end of the day', () => {
  const range = combineDateTimeRange(parseDateTerm('StudyDate', '20240101-20240131'), parseTimeTerm('StudyTime', '0800-'));
  assert.deepEqual(range, {
    lower: { date: '20240101', time: '080000.000000' },
    upper: { date: '20240131', time: '235959.999999' },
  });
});

test('parseUidTerm - refuses wildcards', () => {
  assert.deepEqual(parseUidTerm('StudyInstanceUID', '1.2.3'), { type: 'equal', value: '1.2.3' });
  assert.throws(() => parseUidTerm('StudyInstanceUID', '1.2.*'), QueryError);
});

test('personNameQuery - groups from JSON or text, trailing empty components dropped', () => {
  assert.deepEqual(personNameQuery({ Alphabetic: 'Doe^John^^' }), { alphabetic: 'Doe^John', ideographic: '', phonetic: '' });
  assert.deepEqual(personNameQuery('Yamada^Tarou=山田^太郎=やまだ^たろう'), {
    alphabetic: 'Yamada^Tarou',
    ideographic: '山田^太郎',
    phonetic: 'やまだ^たろう',
  });
});

test('foldForFuzzy - removes accents and case', () => {
  assert.equal(foldForFuzzy('Müller^José'), 'MULLER^JOSE');
  assert.equal(foldForFuzzy('Łódź'), 'ŁODZ'); // Ł is a letter of its own, not L with a mark
  assert.equal(foldForFuzzy('Straße'), 'STRASSE');
});

test('fuzzyPersonNameMatches - prefixes of distinct components in any order, any value, phonetic group too', () => {
  assert.ok(fuzzyPersonNameMatches('john doe', 'Doe^John'));
  assert.ok(fuzzyPersonNameMatches('DOE^J', 'Doe^John'));
  assert.ok(fuzzyPersonNameMatches('jöhn', 'Doe^John'));
  assert.ok(fuzzyPersonNameMatches('mull jur', 'Müller^Jürgen'));
  assert.ok(fuzzyPersonNameMatches('jo*n', 'Doe^John'));
  assert.ok(fuzzyPersonNameMatches('tarou', 'Yamada^Tarou=山田^太郎=やまだ^たろう'));
  assert.ok(fuzzyPersonNameMatches('smith', 'Doe^John\\Smith^Anna'));
  assert.ok(!fuzzyPersonNameMatches('doe doe', 'Doe^John'), 'one component answers one word');
  assert.ok(!fuzzyPersonNameMatches('ohn', 'Doe^John'), 'prefixes only');
  assert.ok(!fuzzyPersonNameMatches('doe', null));
});

test('fuzzyPrefilterGlob - letters become classes of their accented and lower-case variants', () => {
  const pattern = fuzzyPrefilterGlob('MUL');
  assert.match(pattern, /^\*\[M[^\]]*m[^\]]*\]\[U[^\]]*ü[^\]]*\]\[L[^\]]*\]\*$/u);
  assert.equal(fuzzyPrefilterGlob('J*1'), `*${fuzzyPrefilterGlob('J').slice(1, -1)}*1*`);
});

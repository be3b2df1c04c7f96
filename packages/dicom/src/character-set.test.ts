import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { SpecificCharacterSet } from './character-set.js';
import { decodeStringValue } from './value-decoder.js';

const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
const ESC_KS_X_1001 = '1b242943';
const ESC_GB2312 = '1b242941';

test('SpecificCharacterSet - decodes the Japanese examples of PS3.5 Annex H', () => {
  const cs = new SpecificCharacterSet('ISO 2022 IR 13\\ISO 2022 IR 87');
  // H.3.2: half-width katakana in G1 (ISO 2022 IR 13), kanji and hiragana by escape to JIS X 0208.
  const bytes = hex(`d4cfc0de5ec0dbb3 3d 1b24423b3345441b284a 5e 1b244242404f3a1b284a 3d 1b24422464245e24401b284a 5e 1b2442243f246d24261b284a`);
  assert.deepEqual(decodeStringValue(bytes, 'PN', cs), [{ Alphabetic: 'ﾔﾏﾀﾞ^ﾀﾛｳ', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }]);
});

test('SpecificCharacterSet - decodes the Korean example of PS3.5 Annex I', () => {
  const cs = new SpecificCharacterSet('\\ISO 2022 IR 149');
  const bytes = hex(
    `${ascii('Hong^Gildong=')}${ESC_KS_X_1001}fbf3 5e ${ESC_KS_X_1001}d1ced4d7 3d ${ESC_KS_X_1001}c8ab 5e ${ESC_KS_X_1001}b1e6b5bf`,
  );
  assert.deepEqual(decodeStringValue(bytes, 'PN', cs), [{ Alphabetic: 'Hong^Gildong', Ideographic: '洪^吉洞', Phonetic: '홍^길동' }]);
});

test('SpecificCharacterSet - decodes the Chinese examples of PS3.5 Annex J (GB18030) and K (ISO 2022 IR 58)', () => {
  const gb18030 = new SpecificCharacterSet('GB18030');
  assert.deepEqual(decodeStringValue(hex('57616e675e5869616f446f6e673dcdf55ed0a1b6ab3d'), 'PN', gb18030), [
    { Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' },
  ]);
  const ir58 = new SpecificCharacterSet('\\ISO 2022 IR 58');
  const bytes = hex(`${ascii('Zhang^XiaoDong=')}${ESC_GB2312}d5c5 5e ${ESC_GB2312}d0a1b6ab 3d`);
  assert.deepEqual(decodeStringValue(bytes, 'PN', ir58), [{ Alphabetic: 'Zhang^XiaoDong', Ideographic: '张^小东' }]);
});

test('SpecificCharacterSet - splits multiple values on backslash only where it is a delimiter', () => {
  // GBK 誠 is D5 5C: its second byte is not a delimiter.
  assert.deepEqual(decodeStringValue(hex('d55c5cd0d6b5dc'), 'LO', new SpecificCharacterSet('GBK')), ['誠', '兄弟']);
  // JIS X 0208 bytes include 0x5C and 0x3D inside characters; escape state resets at each delimiter.
  const cs = new SpecificCharacterSet('\\ISO 2022 IR 87');
  assert.deepEqual(decodeStringValue(hex('1b2442245c1b28425c41'), 'SH', cs), ['ぼ', 'A']);
});

test('SpecificCharacterSet - decodes single-byte repertoires', () => {
  const cases: [string, string, string][] = [
    ['ISO_IR 100', '4275635e4ae972f46d65', 'Buc^Jérôme'],
    ['ISO_IR 126', 'c4e9efedf5f3e9eff2', 'Διονυσιος'],
    ['ISO_IR 144', 'bbeeda6365dcd17970d3', 'Люкceмбypг'],
    ['ISO_IR 138', 'f9f8e5ef', 'שרון'],
    ['ISO_IR 127', 'e2c8c7e8e9ca', 'قباوىت'],
    ['ISO_IR 166', 'b9d2c2', 'นาย'],
    ['ISO_IR 192', 'e5b1b1e794b0', '山田'],
  ];
  for (const [terms, bytes, text] of cases) {
    assert.deepEqual(decodeStringValue(hex(bytes), 'LO', new SpecificCharacterSet(terms)), [text], terms);
  }
});

test('SpecificCharacterSet - falls back to the default repertoire on an unknown escape sequence, and says so', () => {
  const problems: string[] = [];
  const cs = new SpecificCharacterSet('\\ISO 2022 IR 87', (message) => problems.push(message));
  assert.equal(cs.decode(hex('411b2449422842'), 'LO'), 'A\x1b$IB(B');
  assert.match(problems[0] ?? '', /escape/);
});

test('SpecificCharacterSet - repairs misspelt terms and ignores unknown ones', () => {
  assert.deepEqual(new SpecificCharacterSet('ISO_IR_100').terms, 'ISO_IR 100');
  assert.deepEqual(new SpecificCharacterSet('ISO IR 192').terms, 'ISO_IR 192');
  const unknown = new SpecificCharacterSet('KLINGON');
  assert.deepEqual(unknown.unknownTerms, ['KLINGON']);
  assert.deepEqual(decodeStringValue(hex('4ae972f46d65'), 'LO', unknown), ['Jérôme']);
});

test('SpecificCharacterSet - without (0008,0005) reads UTF-8 when valid, else Latin-1', () => {
  const cs = new SpecificCharacterSet(undefined);
  assert.equal(cs.decode(hex('c3a9'), 'LO'), 'é');
  assert.equal(cs.decode(hex('e9'), 'LO'), 'é');
  assert.equal(cs.decode(hex('414243'), 'LO'), 'ABC');
});

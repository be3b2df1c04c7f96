import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openConformanceChecker } from './fhir-conformance.test-support.js';
import { expressionsOf, openFhirHarness, type FhirHarness } from './fhir-harness.test-support.js';
import { narrativeProblem } from './narrative.js';

const NS = 'xmlns="http://www.w3.org/1999/xhtml"';

/** Narratives with the invariant Atrium must find broken (undefined: none). */
const CASES: Array<[string, 'txt-1' | 'txt-2' | undefined]> = [
  [`<div ${NS}><p>Blood pressure <b>150/70</b> mm[Hg]</p></div>`, undefined],
  [`<div ${NS}><table border="1"><tr><td colspan="2">a &amp; b &lt; c &#233; &#x263A;</td></tr></table></div>`, undefined],
  [`<div ${NS}><a href="https://example.org/?a=1&amp;b=2" title="x > y">link</a></div>`, undefined],
  [`<div ${NS}><img src="#photo" alt=""/></div>`, undefined],
  [`<div ${NS}><!-- generated --><span style="color: red">Allergy</span></div>`, undefined],
  [`\n<div ${NS}>text</div>\n`, undefined],
  [`<div ${NS}><script>alert(1)</script></div>`, 'txt-1'],
  [`<div ${NS}><p onclick="alert(1)">x</p></div>`, 'txt-1'],
  [`<div ${NS}><form><p>x</p></form></div>`, 'txt-1'],
  [`<div ${NS}>a&nbsp;b</div>`, 'txt-1'],
  [`<div ${NS}><p>unclosed</div>`, 'txt-1'],
  [`<div ${NS}><p>x</p></div><div ${NS}>y</div>`, 'txt-1'],
  [`<div ${NS}><!-- a -- b -->x</div>`, 'txt-1'],
  [`<div ${NS}><![CDATA[x]]></div>`, 'txt-1'],
  [`<div ${NS}><p class=x>unquoted</p></div>`, 'txt-1'],
  [`<div ${NS}><p class="a" class="b">twice</p></div>`, 'txt-1'],
  [`<div xmlns="http://example.org/other">x</div>`, 'txt-1'],
  [`<p ${NS}>not a div</p>`, 'txt-1'],
  [`<div ${NS}>x\u0001</div>`, 'txt-1'],
  [`<div ${NS}>   <p> </p>\n</div>`, 'txt-2'],
  [`<div ${NS}><img alt="no source"/></div>`, 'txt-2'],
];

test('narrativeProblem - agrees with the independent checker (fhirpath htmlChecks()) on txt-1 and txt-2', () => {
  const checker = openConformanceChecker();
  for (const [div, expected] of CASES) {
    assert.equal(narrativeProblem(div)?.key, expected, div);
    const problems = checker.problems({ resourceType: 'Basic', code: { text: 'x' }, text: { status: 'generated', div } });
    assert.equal(problems.some((p) => p.startsWith('invariant txt-')), expected !== undefined, `${div}: ${problems.join('; ')}`);
  }
  // Stricter than the checker: the root div must declare the XHTML namespace (json.html#xhtml), and a character
  // reference to a space is a space (R4's txt-2 XPath normalises space).
  assert.equal(narrativeProblem('<div>x</div>')?.key, 'txt-1');
  assert.equal(narrativeProblem(`<div ${NS}>&#32;</div>`)?.key, 'txt-2');
});

describe('FHIR invariants dom-3, txt-1, txt-2 on input', () => {
  let h: FhirHarness;
  before(async () => {
    h = await openFhirHarness();
  });
  after(async () => h.close());

  test('txt-1, txt-2 - a narrative outside the rules is refused naming Patient.text.div; a valid one is kept', async () => {
    const script = await h.call('POST', '/fhir/Patient', { resourceType: 'Patient', text: { status: 'generated', div: `<div ${NS}><script>x</script></div>` } });
    assert.equal(script.status, 400);
    assert.deepEqual(expressionsOf(script), ['Patient.text.div']);
    assert.equal(script.body.issue[0].code, 'invariant');
    assert.match(script.body.issue[0].diagnostics, /txt-1 failed.*element 'script' is not allowed/);
    const empty = await h.call('POST', '/fhir/Patient', { resourceType: 'Patient', text: { status: 'generated', div: `<div ${NS}> </div>` } });
    assert.deepEqual(expressionsOf(empty), ['Patient.text.div']);
    assert.match(empty.body.issue[0].diagnostics, /txt-2 failed/);
    const inContained = await h.call('POST', '/fhir/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      subject: { reference: '#p' },
      contained: [{ resourceType: 'Patient', id: 'p', text: { status: 'generated', div: `<div ${NS}><iframe/></div>` } }],
    });
    assert.deepEqual(expressionsOf(inContained), ['Observation.contained[0].text.div']);
    const good = await h.call('POST', '/fhir/Patient', { resourceType: 'Patient', text: { status: 'generated', div: `<div ${NS}><p>Anna <b>Müller</b> &amp; family</p></div>` } });
    assert.equal(good.status, 201, JSON.stringify(good.body));
    const read = await h.call('GET', `/fhir/Patient/${good.body.id}`);
    assert.equal(read.body.text.div, `<div ${NS}><p>Anna <b>Müller</b> &amp; family</p></div>`);
  });

  test('dom-3 - a contained resource nothing refers to is refused naming it; one referred to is kept', async () => {
    const orphan = await h.call('POST', '/fhir/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      note: [{ text: 'see #p' }],
      contained: [{ resourceType: 'Patient', id: 'p' }],
    });
    assert.equal(orphan.status, 400);
    assert.deepEqual(expressionsOf(orphan), ['Observation.contained[0]']);
    assert.match(orphan.body.issue[0].diagnostics, /dom-3 failed/);
    const referred = await h.call('POST', '/fhir/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'x' },
      performer: [{ reference: '#dr' }],
      contained: [{ resourceType: 'Practitioner', id: 'dr', name: [{ family: 'Kildare' }] }],
    });
    assert.equal(referred.status, 201, JSON.stringify(referred.body));
    // A contained resource referring to its container ('#') satisfies dom-3, but R4's ref-1 refuses the reference
    // '#' itself (fixed in R5), so the resource is still refused, for ref-1 only.
    const toContainer = await h.call('POST', '/fhir/Patient', {
      resourceType: 'Patient',
      contained: [{ resourceType: 'Patient', id: 'twin', link: [{ other: { reference: '#' }, type: 'seealso' }] }],
    });
    assert.deepEqual(toContainer.body.issue.map((i: any) => i.diagnostics.match(/(\w+-\d+) failed/)?.[1]), ['ref-1']);
  });
});

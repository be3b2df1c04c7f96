/**
 * The rules of a resource's narrative XHTML (FHIR R4 narrative.html#xhtml, invariants `txt-1` and `txt-2` of
 * Narrative.div): well-formed XML with one root `div` in the XHTML namespace; only the basic formatting elements of
 * HTML 4.0 (chapters 7 to 11 and 15), anchors and images; only their plain attributes (no event handlers, no
 * prefixed names); the five XML entities and character references, no HTML entities; no comments containing `--`,
 * processing instructions, DOCTYPE or CDATA sections; and some non-whitespace content (text, or an image with a
 * source). The runtime has no XML parser: this scanner covers the subset narratives may use.
 */

const XHTML_NAMESPACE = 'http://www.w3.org/1999/xhtml';

const ELEMENTS = new Set(
  (
    'p br div h1 h2 h3 h4 h5 h6 a span b em i strong small big tt dfn q var abbr acronym cite blockquote hr address ' +
    'bdo kbd sub sup ul ol li dl dt dd pre table caption colgroup col thead tr tfoot tbody th td code samp img'
  ).split(' '),
);

/** Attributes of every allowed element (HTML 4.0 core and i18n, and the table cell alignment set). */
const GLOBAL_ATTRIBUTES = new Set(
  'title style class id lang dir accesskey tabindex xmlns span align valign char charoff abbr axis headers scope rowspan colspan'.split(' '),
);

/** Attributes of one element only. */
const ELEMENT_ATTRIBUTES: Readonly<Record<string, ReadonlySet<string>>> = {
  a: new Set(['href', 'name']),
  img: new Set(['src', 'alt', 'border', 'longdesc', 'height', 'width']),
  blockquote: new Set(['cite']),
  q: new Set(['cite']),
  table: new Set(['summary', 'width', 'border', 'frame', 'rules', 'cellspacing', 'cellpadding']),
  col: new Set(['width']),
  colgroup: new Set(['width']),
  th: new Set(['width']),
  td: new Set(['width', 'nowrap']),
};

const XML_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export interface NarrativeProblem {
  key: 'txt-1' | 'txt-2';
  reason: string;
}

const isXmlSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/** The `>` that ends the tag starting before `from` (a `>` may stand in a quoted attribute value), or -1. */
function tagEnd(text: string, from: number): number {
  let quote: string | undefined;
  for (let k = from; k < text.length; k++) {
    const c = text[k]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '>') return k;
  }
  return -1;
}

/** The first narrative rule `div` breaks, or undefined when it follows them all. */
export function narrativeProblem(div: unknown): NarrativeProblem | undefined {
  const txt1 = (reason: string): NarrativeProblem => ({ key: 'txt-1', reason });
  if (typeof div !== 'string') return txt1('the narrative is not a string');
  for (const ch of div) {
    if (!isXmlChar(ch.codePointAt(0)!)) return txt1(`character U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`);
  }
  const stack: string[] = [];
  let rootSeen = false;
  let content = false;
  let i = 0;

  /** Decodes the references in text or an attribute value; a string is the problem. */
  const decode = (text: string): { value: string } | { problem: string } => {
    let out = '';
    for (let k = 0; k < text.length; k++) {
      const c = text[k]!;
      if (c !== '&') {
        out += c;
        continue;
      }
      const end = text.indexOf(';', k);
      if (end < 0) return { problem: `'&' does not start a reference` };
      const name = text.slice(k + 1, end);
      if (/^#[0-9]+$/.test(name) || /^#x[0-9A-Fa-f]+$/.test(name)) {
        const cp = name[1] === 'x' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        if (!isXmlChar(cp)) return { problem: `'&${name};' is not an XML character` };
        out += String.fromCodePoint(cp);
      } else if (XML_ENTITIES[name] !== undefined) {
        out += XML_ENTITIES[name];
      } else {
        return { problem: `entity '&${name};' is not one of XML's five (HTML entities are not allowed)` };
      }
      k = end;
    }
    return { value: out };
  };

  while (i < div.length) {
    const lt = div.indexOf('<', i);
    const text = div.slice(i, lt < 0 ? div.length : lt);
    if (text.length > 0) {
      if (stack.length === 0) {
        if (![...text].every(isXmlSpace)) return txt1('text outside the root div');
      } else {
        if (text.includes(']]>')) return txt1(`']]>' in text`);
        const decoded = decode(text);
        if ('problem' in decoded) return txt1(decoded.problem);
        if (![...decoded.value].every(isXmlSpace)) content = true;
      }
    }
    if (lt < 0) break;
    i = lt;
    if (div.startsWith('<!--', i)) {
      const end = div.indexOf('-->', i + 4);
      if (end < 0) return txt1('a comment is not closed');
      if (div.slice(i + 4, end).includes('--') || div[end - 1] === '-') return txt1(`'--' inside a comment`);
      i = end + 3;
      continue;
    }
    if (div.startsWith('<?', i)) return txt1('processing instructions are not allowed');
    if (div.startsWith('<!', i)) return txt1('DOCTYPE declarations and CDATA sections are not allowed');
    const gt = tagEnd(div, i + 1);
    if (gt < 0) return txt1('a tag is not closed');
    const tag = div.slice(i + 1, gt);
    i = gt + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trimEnd();
      const open = stack.pop();
      if (open !== name) return txt1(`end tag '</${name}>' does not close '<${open ?? ''}>'`);
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const nameMatch = /^[A-Za-z][A-Za-z0-9]*/.exec(body);
    if (!nameMatch) return txt1(`'<${tag.slice(0, 20)}' is not a tag`);
    const name = nameMatch[0];
    if (stack.length === 0) {
      if (rootSeen) return txt1('more than one root element');
      if (name !== 'div') return txt1(`the root element is '${name}', not 'div'`);
      rootSeen = true;
    }
    if (!ELEMENTS.has(name)) return txt1(`element '${name}' is not allowed in a narrative`);
    const attributes = new Map<string, string>();
    let rest = body.slice(name.length);
    for (;;) {
      const space = /^[ \t\r\n]+/.exec(rest);
      if (!space) {
        if (rest === '') break;
        return txt1(`malformed attributes in '<${name}>'`);
      }
      rest = rest.slice(space[0].length);
      if (rest === '') break;
      const attribute = /^([A-Za-z_:][A-Za-z0-9_.:-]*)[ \t\r\n]*=[ \t\r\n]*("([^"<]*)"|'([^'<]*)')/.exec(rest);
      if (!attribute) return txt1(`malformed attribute in '<${name}>'`);
      const attributeName = attribute[1]!;
      if (attributes.has(attributeName)) return txt1(`attribute '${attributeName}' twice on '<${name}>'`);
      if (!GLOBAL_ATTRIBUTES.has(attributeName) && !ELEMENT_ATTRIBUTES[name]?.has(attributeName)) {
        return txt1(`attribute '${attributeName}' is not allowed on '<${name}>'`);
      }
      const decoded = decode(attribute[3] ?? attribute[4] ?? '');
      if ('problem' in decoded) return txt1(decoded.problem);
      attributes.set(attributeName, decoded.value);
      rest = rest.slice(attribute[0].length);
    }
    const namespace = attributes.get('xmlns');
    if (namespace !== undefined && namespace !== XHTML_NAMESPACE) return txt1(`namespace '${namespace}' is not XHTML's`);
    if (stack.length === 0 && namespace === undefined) return txt1(`the root div does not declare xmlns="${XHTML_NAMESPACE}"`);
    if (name === 'img' && attributes.has('src')) content = true;
    if (!selfClosing) stack.push(name);
  }
  if (!rootSeen) return txt1('there is no root div');
  if (stack.length > 0) return txt1(`'<${stack[stack.length - 1]}>' is not closed`);
  if (!content) return { key: 'txt-2', reason: 'the narrative has no non-whitespace content (text, or an image with a source)' };
  return undefined;
}

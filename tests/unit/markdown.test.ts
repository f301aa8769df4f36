// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/ui/markdown';

function dom(html: string): HTMLElement {
  const div = document.createElement('div');
  div.innerHTML = html;
  return div;
}

describe('renderMarkdown', () => {
  it('renders ordinary Markdown', () => {
    const el = dom(renderMarkdown('# Title\n\nSome **bold** and `code`.\n\n- a\n- b\n\n```js\nlet x = 1;\n```'));
    expect(el.querySelector('h1')?.textContent).toBe('Title');
    expect(el.querySelector('strong')?.textContent).toBe('bold');
    expect(el.querySelectorAll('li')).toHaveLength(2);
    expect(el.querySelector('pre code')?.className).toBe('language-js');
  });

  const hostile: Array<[string, string]> = [
    ['script tag', '<script>window.__pwned = 1</script>'],
    ['inline handler', '<img src=x onerror="window.__pwned=1">'],
    ['markdown image (remote load)', '![tracker](https://evil.example/pixel.png)'],
    ['javascript link', '[click](javascript:alert(1))'],
    ['data link', '[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)'],
    ['iframe', '<iframe src="https://evil.example"></iframe>'],
    ['style', '<style>body{display:none}</style><div style="position:fixed">x</div>'],
    ['svg', '<svg><script>alert(1)</script></svg>'],
    ['form', '<form action="https://evil.example"><button>go</button></form>'],
    ['link autolink vbscript', '<vbscript:msgbox(1)>'],
    ['object', '<object data="x.swf"></object>'],
    ['meta refresh', '<meta http-equiv="refresh" content="0;url=https://evil.example">'],
  ];

  for (const [what, input] of hostile) {
    it(`neutralises ${what}`, () => {
      const el = dom(renderMarkdown(input));
      for (const tag of ['script', 'img', 'iframe', 'style', 'svg', 'form', 'object', 'meta', 'button', 'embed', 'link']) {
        expect(el.querySelector(tag), `${tag} in ${el.innerHTML}`).toBeNull();
      }
      for (const node of el.querySelectorAll('*')) {
        for (const attr of Array.from(node.attributes)) {
          expect(attr.name.startsWith('on'), attr.name).toBe(false);
          expect(attr.name).not.toBe('style');
          expect(attr.name).not.toBe('src');
        }
      }
      for (const a of el.querySelectorAll('a')) {
        const href = a.getAttribute('href');
        if (href !== null) expect(href).toMatch(/^(https?:|mailto:)/);
      }
    });
  }

  it('shows raw HTML as text rather than dropping what the model said', () => {
    const el = dom(renderMarkdown('Use <b>this</b> tag'));
    expect(el.querySelector('b')).toBeNull();
    expect(el.textContent).toContain('<b>this</b>');
  });

  it('opens safe links in a new tab without opener or referrer', () => {
    const el = dom(renderMarkdown('[docs](https://example.org/a)'));
    const a = el.querySelector('a');
    expect(a?.getAttribute('href')).toBe('https://example.org/a');
    expect(a?.getAttribute('target')).toBe('_blank');
    expect(a?.getAttribute('rel')).toContain('noopener');
  });

  it('keeps an image only as its alt text', () => {
    const el = dom(renderMarkdown('![a cat](https://example.org/cat.png)'));
    expect(el.textContent).toContain('a cat');
    expect(el.querySelector('img')).toBeNull();
  });
});

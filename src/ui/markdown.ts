/**
 * Markdown from the model (or from an imported file) to safe HTML.
 *
 * Everything the model writes is untrusted. Two layers:
 * 1. marked renders Markdown with raw HTML and images turned into plain text,
 *    so `<script>` or `![x](https://tracker)` show as text, never as elements;
 * 2. DOMPurify then keeps only a small allow-list of formatting tags and
 *    attributes, and only http(s)/mailto links (opened in a new tab, without
 *    referrer or opener).
 * Nothing in the output can run code or load a resource by being displayed.
 * The page's Content-Security-Policy (index.html) is a third layer.
 */
import { Marked, type Tokens } from 'marked';
import createDOMPurify, { type DOMPurify } from 'dompurify';

const ALLOWED_TAGS = [
  'p', 'br', 'hr', 'strong', 'em', 'del', 'code', 'pre', 'blockquote',
  'ul', 'ol', 'li', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'a',
  'table', 'thead', 'tbody', 'tr', 'th', 'td', 'input',
];
const ALLOWED_ATTR = ['href', 'title', 'class', 'start', 'align', 'type', 'checked', 'disabled'];
const SAFE_URL = /^(?:https?:|mailto:)/i;
const CODE_CLASS = /^language-[\w+#.-]{1,32}$/;

function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use({
  renderer: {
    // Raw HTML in Markdown is shown as the text it is.
    html(token: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(token.text);
    },
    // Images would load a URL chosen by the model: show their alt text instead.
    image(token: Tokens.Image) {
      return escapeHtml(token.text ? `[image: ${token.text}]` : '[image]');
    },
  },
});

let purifier: DOMPurify | null = null;

function getPurifier(): DOMPurify {
  if (purifier) return purifier;
  // A private instance, so our hooks never affect anyone else's use of DOMPurify.
  const p = createDOMPurify(window);
  p.addHook('uponSanitizeAttribute', (node, data) => {
    if (data.attrName === 'class') {
      data.keepAttr = node.nodeName === 'CODE' && CODE_CLASS.test(data.attrValue);
    }
    if (data.attrName === 'href') data.keepAttr = SAFE_URL.test(data.attrValue.trim());
    if (['type', 'checked', 'disabled'].includes(data.attrName)) {
      data.keepAttr = node.nodeName === 'INPUT';
    }
  });
  p.addHook('afterSanitizeAttributes', (node) => {
    if (node.nodeName === 'A') {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer nofollow');
    }
    if (node.nodeName === 'INPUT') {
      // GFM task-list boxes only: always inert checkboxes.
      if (node.getAttribute('type') !== 'checkbox') node.remove();
      else node.setAttribute('disabled', '');
    }
  });
  purifier = p;
  return p;
}

/** Safe HTML for a Markdown string. */
export function renderMarkdown(markdown: string): string {
  const html = marked.parse(markdown) as string;
  return getPurifier().sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP: SAFE_URL,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
    KEEP_CONTENT: true,
  });
}

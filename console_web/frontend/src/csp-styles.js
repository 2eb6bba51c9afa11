// xterm.js 6 writes a few <style> elements with textContent (theme colours, row layout, scrollbar) and sets some
// `style` attributes with setAttribute (true colours). Under the pages' Content-Security-Policy
// (`style-src 'self'`, no 'unsafe-inline') the browser refuses both. This shim keeps the text of script-made
// <style> elements in constructed stylesheets adopted by the document, and routes setAttribute('style', ...)
// through the CSSOM (element.style.cssText); CSP allows both, so the terminal renders correctly without
// weakening the policy. The page's own code never needs it (it uses classes only).

export function installConstructedStyleShim(doc = document) {
  if (typeof CSSStyleSheet === 'undefined' || !('adoptedStyleSheets' in doc)) return;
  try {
    new CSSStyleSheet().replaceSync('');
  } catch {
    return;
  }
  const original = doc.createElement;
  const create = function createElement(tagName, options) {
    if (String(tagName).toLowerCase() !== 'style') return original.call(doc, tagName, options);
    // An inert stand-in: an empty <style> in the page would itself be reported as a CSP violation.
    const node = original.call(doc, 'template', options);
    node.dataset.constructedStyle = '';
    const sheet = new CSSStyleSheet();
    let text = '';
    const adopt = () => {
      if (!doc.adoptedStyleSheets.includes(sheet)) doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
    };
    Object.defineProperty(node, 'textContent', {
      configurable: true,
      get: () => text,
      set: (value) => {
        text = value === null || value === undefined ? '' : String(value);
        sheet.replaceSync(text);
        adopt();
      },
    });
    Object.defineProperty(node, 'innerText', {
      configurable: true,
      get: () => text,
      set: (value) => {
        node.textContent = value;
      },
    });
    const remove = node.remove.bind(node);
    node.remove = () => {
      doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
      remove();
    };
    return node;
  };
  Object.defineProperty(doc, 'createElement', { configurable: true, writable: true, value: create });

  const setAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function setAttributeViaCssom(name, value) {
    if (String(name).toLowerCase() === 'style' && this.style) {
      this.style.cssText = String(value);
      return;
    }
    setAttribute.call(this, name, value);
  };
}

/**
 * Tiny element builders: h("a", { href, class, onclick }, ...children) for HTML and svg(...) for SVG.
 * Children may be strings, numbers, nodes, arrays, or null/undefined/false (skipped), so pages can be
 * written as one expression without string-built HTML (and without escaping bugs).
 */
const SVG_NS = "http://www.w3.org/2000/svg";

function applyAttributes(element, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "style" && typeof value === "object") {
      Object.assign(element.style, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
}

function appendChildren(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) appendChildren(element, child);
    else if (child instanceof Node) element.append(child);
    else element.append(document.createTextNode(String(child)));
  }
}

/** An HTML element. */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  applyAttributes(element, attrs);
  appendChildren(element, children);
  return element;
}

/** An SVG element (attributes are set verbatim, e.g. { viewBox, "stroke-width": 2 }). */
export function svg(tag, attrs, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  applyAttributes(element, attrs);
  appendChildren(element, children);
  return element;
}

/** Replace everything inside `container` with `children`. */
export function mount(container, ...children) {
  container.replaceChildren();
  appendChildren(container, children);
}

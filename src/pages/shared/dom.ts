// A few lines of DOM building instead of a UI library: the pages are small forms and lists.

type Child = Node | string | null | undefined | false;
type Props<E> = { [P in keyof E]?: E[P] } & {
  /** Attributes without a DOM property of their own (aria-*, data-*). */
  attrs?: Record<string, string>;
};

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props<HTMLElementTagNameMap[K]> = {}, children: Child[] = []) {
  const { attrs, ...properties } = props;
  const element = document.createElement(tag);
  Object.assign(element, properties);
  for (const [name, value] of Object.entries(attrs ?? {})) element.setAttribute(name, value);
  element.append(...children.filter((child): child is Node | string => child !== null && child !== undefined && child !== false));
  return element;
}

let fieldCount = 0;

type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

/** A control with its visible label. */
export function field(label: string, control: Control, className = 'field') {
  control.id ||= `field-${++fieldCount}`;
  return h('div', { className }, [h('label', { htmlFor: control.id, textContent: label }), control]);
}

/** A select with `value` chosen; as the default too, so a copy (the dragged row's image) shows it. */
export function select(options: readonly (readonly [value: string, label: string])[], value: string) {
  return h(
    'select',
    {},
    options.map(([optionValue, label]) => h('option', { value: optionValue, textContent: label, defaultSelected: optionValue === value })),
  );
}

/** The element with this id, which the page's HTML is known to contain. */
export function byId<T extends HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`page is missing #${id}`);
  return element as T;
}

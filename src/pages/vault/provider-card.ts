// One card per provider: its connection settings, its keys and its models.
import { PROVIDERS } from '../../providers/table';
import type { Provider } from '../../vault/schema';
import { field, h, select } from '../shared/dom';
import { type Draft, setOptionalText } from './draft';
import { keysSection } from './keys';
import { modelsSection } from './models';

/** The protocol names a vault uses: each known provider's name (OpenAI-compatible ones included). */
export function protocolOptions(current?: string): [string, string][] {
  const names = Object.keys(PROVIDERS);
  if (current && !names.includes(current)) names.push(current);
  return names.map((name) => [name, name]);
}

function textField(label: string, target: Record<string, unknown>, name: string, draft: Draft, options: { required?: boolean; placeholder?: string } = {}) {
  const input = h('input', {
    type: 'url',
    value: typeof target[name] === 'string' ? target[name] : '',
    required: options.required ?? false,
    placeholder: options.placeholder ?? '',
    spellcheck: false,
    className: 'mono',
  });
  input.addEventListener('input', () => {
    if (options.required) target[name] = input.value.trim();
    else setOptionalText(target, name, input.value);
    draft.changed();
  });
  return field(label, input);
}

export function providerCard(id: string, provider: Provider, draft: Draft, onRemove: () => void): HTMLElement {
  const protocol = select(protocolOptions(provider.protocol), provider.protocol);
  protocol.addEventListener('change', () => {
    provider.protocol = protocol.value;
    draft.changed();
  });
  const prefix = h('input', {
    value: provider.gatewayModelPrefix ?? '',
    spellcheck: false,
    className: 'mono',
    placeholder: PROVIDERS[id]?.gatewaySlug ?? `custom-${id}`,
  });
  prefix.addEventListener('input', () => {
    setOptionalText(provider, 'gatewayModelPrefix', prefix.value);
    draft.changed();
  });
  const remove = h('button', { type: 'button', className: 'danger', textContent: 'Remove provider', attrs: { 'aria-label': `Remove provider ${id}` } });
  remove.addEventListener('click', onRemove);
  const headingId = `provider-${id}`;
  return h('section', { className: 'panel provider', attrs: { 'aria-labelledby': headingId, 'data-provider': id } }, [
    h('div', { className: 'card-head' }, [h('h2', { id: headingId, textContent: id, tabIndex: -1 }), remove]),
    h('div', { className: 'settings' }, [
      field('Protocol', protocol),
      textField('Endpoint', provider, 'endpoint', draft, { required: true }),
      field('AI Gateway model prefix', prefix),
      textField('AI Gateway endpoint', provider, 'gatewayEndpoint', draft, {
        placeholder: 'optional: https://gateway.ai.cloudflare.com/v1/{account}/default/compat',
      }),
    ]),
    keysSection(id, provider, draft),
    modelsSection(id, provider, draft),
  ]);
}

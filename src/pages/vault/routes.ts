// The model routes: for each model that two providers or more list (a fallback chain), how the chain
// is ordered: by priority, by latency, or weighted with a share per provider (README, "Routing").
// Edits the vault's `routes` in place; a route back to the default leaves no trace.
import type { AiConfig, ModelRoute, Routing } from '../../vault/schema';
import { field, h, select } from '../shared/dom';
import type { Draft } from './draft';

const MODES: [Routing, string][] = [
  ['priority', 'Priority: lower model priority first'],
  ['latency', 'Latency: fastest recent first byte first, among equal priority'],
  ['weighted', 'Weighted: a share per provider (canary, A/B)'],
];

/** Every model id two providers or more list, with those providers, plus any model the vault has a route for. */
export function chains(config: AiConfig): Map<string, string[]> {
  const listing = new Map<string, string[]>();
  for (const [id, provider] of Object.entries(config.providers)) {
    for (const model of provider.models) listing.set(model.id, [...new Set([...(listing.get(model.id) ?? []), id])]);
  }
  const routed = new Set(Object.keys(config.routes ?? {}));
  return new Map([...listing].filter(([model, providers]) => providers.length > 1 || routed.has(model)));
}

/** A key that changes when the chains do: the panel is rebuilt only then (not while a weight is typed). */
export const chainsKey = (config: AiConfig) => JSON.stringify([...chains(config)]);

function routeOf(config: AiConfig, model: string): ModelRoute {
  config.routes ??= {};
  return (config.routes[model] ??= {});
}

/** Drop what says nothing: a route with no field left, a `routes` with no route. */
function tidy(config: AiConfig, model: string) {
  const route = config.routes?.[model];
  if (route && Object.keys(route).length === 0) delete config.routes![model];
  if (config.routes && Object.keys(config.routes).length === 0) delete config.routes;
}

function weightInput(config: AiConfig, model: string, provider: string, draft: Draft): HTMLElement {
  const weights = config.routes?.[model]?.weights ?? {};
  const input = h('input', { type: 'number', min: '0', step: 'any', value: String(weights[provider] ?? 0), className: 'num' });
  input.addEventListener('input', () => {
    const weight = Number(input.value);
    const valid = input.value.trim() !== '' && Number.isFinite(weight) && weight >= 0;
    input.setCustomValidity(valid ? '' : 'a weight is a number, 0 or more');
    if (!valid) return;
    const route = routeOf(config, model);
    route.weights = { ...route.weights, [provider]: weight };
    draft.changed();
  });
  return field(`Weight of ${provider}`, input);
}

function routeRow(config: AiConfig, model: string, providers: string[], draft: Draft): HTMLElement {
  const current = config.routes?.[model]?.routing ?? 'priority';
  const mode = select(MODES, current);
  const weights = h(
    'div',
    { className: 'weights' },
    providers.map((provider) => weightInput(config, model, provider, draft)),
  );
  weights.hidden = current !== 'weighted';
  mode.addEventListener('change', () => {
    const route = routeOf(config, model);
    const routing = mode.value as Routing;
    if (routing === 'priority') delete route.routing;
    else route.routing = routing;
    // A new weighted route starts with equal shares, so it is valid as it is.
    if (routing === 'weighted' && !Object.values(route.weights ?? {}).some((w) => w > 0)) {
      route.weights = Object.fromEntries(providers.map((p) => [p, 1]));
      weights.replaceChildren(...providers.map((provider) => weightInput(config, model, provider, draft)));
    }
    weights.hidden = routing !== 'weighted';
    tidy(config, model);
    draft.changed();
    draft.announce(`Model ${model} is now routed by ${routing}.`);
  });
  return h('div', { className: 'route', attrs: { 'data-model': model } }, [
    h('h3', { className: 'mono', textContent: model }),
    h('p', { className: 'status', textContent: `Listed by ${providers.join(', ')}.` }),
    field('Routing', mode),
    weights,
  ]);
}

export function routesPanel(config: AiConfig, draft: Draft): HTMLElement {
  const rows = [...chains(config)].map(([model, providers]) => routeRow(config, model, providers, draft));
  return h('section', { className: 'panel routes', attrs: { 'aria-labelledby': 'routes-title' } }, [
    h('h2', { id: 'routes-title', textContent: 'Model routes' }),
    h('p', {
      className: 'status',
      textContent:
        'A model that several providers list is a fallback chain. Choose how it is ordered; the answer header X-Switchyard-Route says why a provider was chosen.',
    }),
    ...(rows.length ? rows : [h('p', { className: 'empty', textContent: 'No model is listed by two providers yet.' })]),
  ]);
}

// What the editor's parts share: the draft they edit in place, and the page's voice.

export interface Draft {
  /** Something in the draft changed: it now differs from the saved vault. */
  changed(): void;
  /** Tell screen-reader users what just happened (a reorder, a refresh). */
  announce(text: string): void;
}

/** Set a text field, or remove it when emptied, so an untouched optional field stays absent. */
export function setOptionalText(target: Record<string, unknown>, name: string, value: string) {
  if (value.trim() === '') delete target[name];
  else target[name] = value.trim();
}

/** Set a positive whole number; an emptied field goes back to null when it was null, else disappears. */
/** A price in USD per 1M tokens (a number ≥ 0), or nothing when the input is empty; false when invalid. */
export function setOptionalPrice(target: Record<string, unknown>, name: string, input: HTMLInputElement): boolean {
  const value = input.value.trim();
  if (value === '') {
    delete target[name];
    return true;
  }
  const price = Number(value);
  if (!Number.isFinite(price) || price < 0) return false;
  target[name] = price;
  return true;
}

export function setOptionalCount(target: Record<string, unknown>, name: string, input: HTMLInputElement): boolean {
  const value = input.value.trim();
  if (value === '') {
    if (target[name] !== null) delete target[name];
    return true;
  }
  const count = Number(value);
  if (!Number.isInteger(count) || count <= 0) return false;
  target[name] = count;
  return true;
}

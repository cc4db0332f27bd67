// What every section of the console shares: the error line, the screen-reader announcer, the
// confirmation dialog.
import { byId } from '../shared/dom';
import { describeError } from '../shared/errors';

export interface Shell {
  announce(text: string): void;
  /** Run an action; its failure is shown in the error line, and a 401 signs out. */
  run(action: () => Promise<void>): Promise<void>;
}

export function createShell(onUnauthorized: (message: string) => void): Shell {
  const error = byId<HTMLParagraphElement>('error');
  const announcer = byId<HTMLParagraphElement>('announcer');
  return {
    announce(text) {
      announcer.textContent = text;
    },
    async run(action) {
      error.hidden = true;
      try {
        await action();
      } catch (err) {
        const message = describeError(err);
        if ((err as { status?: number }).status === 401) return onUnauthorized(message);
        error.textContent = message;
        error.hidden = false;
      }
    },
  };
}

/** Ask before an action that cannot be undone; resolves true when confirmed. */
export function confirmAction(title: string, text: string, action: string): Promise<boolean> {
  const dialog = byId<HTMLDialogElement>('confirm-dialog');
  byId('confirm-title').textContent = title;
  byId('confirm-text').textContent = text;
  byId('confirm-yes').textContent = action;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true }));
}

// The operator console at `/admin`: users, usage charts, the request log and key health, all from the
// operator API with the token held in this tab's memory only.
import './admin.css';
import { byId } from '../shared/dom';
import { wireThemeToggle } from '../shared/theme';
import { api, signIn, signOut } from './api';
import { healthSection } from './health';
import { requestsSection } from './requests';
import { createShell } from './shell';
import { usageSection } from './usage';
import { usersSection } from './users';

wireThemeToggle(byId<HTMLButtonElement>('theme-toggle'));

const signInForm = byId<HTMLFormElement>('sign-in');
const tokenInput = byId<HTMLInputElement>('operator-token');
const consoleView = byId<HTMLDivElement>('console');
const error = byId<HTMLParagraphElement>('error');

function showSignIn(message?: string) {
  signOut();
  consoleView.hidden = true;
  signInForm.hidden = false;
  if (message) {
    error.textContent = message;
    error.hidden = false;
  }
  tokenInput.focus();
}

const shell = createShell(showSignIn);
const sections = [usersSection(shell), usageSection(shell), requestsSection(shell), healthSection(shell)];

signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  shell.run(async () => {
    signIn(tokenInput.value);
    await api('/admin/users');
    tokenInput.value = '';
    signInForm.hidden = true;
    consoleView.hidden = false;
    shell.announce('Signed in.');
    await Promise.all(sections.map((section) => section.load()));
  });
});

byId('sign-out').addEventListener('click', () => showSignIn());

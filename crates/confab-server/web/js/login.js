// The login / sign-up screen (REST register and login; the token goes to IndexedDB).
import { api } from './api.js';
import { t } from './i18n.js';
import { $, errorText } from './ui.js';

export function initLogin(onToken) {
  const form = $('login-form');
  const go = async (register) => {
    const username = $('login-username').value.trim();
    const password = $('login-password').value;
    const err = $('login-error');
    err.textContent = '';
    if (!username || !password) { err.textContent = t('err_fill_in'); return; }
    if (register && new TextEncoder().encode(password).length < 8) { err.textContent = t('err_password_short'); return; }
    $('login-btn').disabled = true;
    $('register-btn').disabled = true;
    try {
      const body = { username, password };
      if (register && sessionStorage.getItem('confab.invite')) body.invite = sessionStorage.getItem('confab.invite');
      const r = await api(register ? '/register' : '/login', { method: 'POST', body });
      if (r.room) sessionStorage.removeItem('confab.invite');
      $('login-password').value = '';
      await onToken(r.token, r.user.username, r.room);
    } catch (e) {
      err.textContent = e.code === 'unauthorized' ? t('err_login') : e.code === 'conflict' ? t('err_taken')
        : e.code === 'bad_request' && register ? t('err_bad_signup') : errorText(e);
    } finally {
      $('login-btn').disabled = false;
      $('register-btn').disabled = false;
    }
  };
  form.addEventListener('submit', (e) => { e.preventDefault(); go(false); });
  $('register-btn').addEventListener('click', () => go(true));
}

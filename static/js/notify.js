// notify.js - what tells the user about messages while they look
// elsewhere: the unread total in the tab's title, and desktop
// notifications, only while the tab is hidden, never for the user's own
// messages, with the permission asked only when the user clicks for it.

const APP = 'WeApRous';
const BODY_MAX = 160;

export function setTitle(total, label) {
  const base = label ? `${label} — ${APP}` : APP;
  document.title = total > 0 ? `(${total}) ${base}` : base;
}

export class Notifier {
  // button: the "Enable desktop notifications" control; onOpen(channel)
  constructor(button, onOpen) {
    this.button = button;
    this.onOpen = onOpen;
    this.supported = typeof window.Notification === 'function';
    button.addEventListener('click', () => this.ask());
    this.sync();
  }

  sync() {
    if (!this.supported) {
      this.button.hidden = true;
      return;
    }
    const p = Notification.permission;
    this.button.hidden = p === 'granted';
    const label = p === 'denied' ? 'Desktop notifications are blocked in the browser settings'
      : 'Enable desktop notifications';
    this.button.setAttribute('aria-label', label);
    this.button.title = label;
    this.button.classList.toggle('denied', p === 'denied');
  }

  async ask() {
    if (!this.supported || Notification.permission !== 'default') return;
    try {
      await Notification.requestPermission();
    } catch (e) { /* an old callback-only browser: nothing to do */ }
    this.sync();
  }

  // A new message m of another user in the conversation labelled label.
  message(m, label, me) {
    if (!this.supported || m.origin === me || document.visibilityState !== 'hidden'
        || Notification.permission !== 'granted') return;
    const body = m.text.length > BODY_MAX ? `${m.text.slice(0, BODY_MAX - 1)}…` : m.text;
    const title = label.startsWith('#') ? `${m.origin} in ${label}` : m.origin;
    try {
      const n = new Notification(title, { body, tag: m.channel, icon: '/images/logo.svg' });
      n.onclick = () => {
        window.focus();
        this.onOpen(m.channel);
        n.close();
      };
    } catch (e) { /* notifications may still be refused */ }
  }
}

// composer.js - the message box: Enter sends, Shift+Enter breaks the line,
// the box grows with its text, and the byte count shows from 90 % of the
// limit so the limit is seen before it is hit (over it, Send is off).

import { TEXT_MAX, TEXT_WARN, byteLength, plural } from './format.js';

const MAX_HEIGHT_VH = 0.4;

export class Composer {
  // form, box (textarea), send (button), count; onSend(text) -> bool
  constructor({ form, box, send, count, onSend }) {
    Object.assign(this, { form, box, send, count, onSend });
    box.addEventListener('input', () => this.update());
    box.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        this.submit();
      }
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.submit();
    });
  }

  enable(on, placeholder) {
    this.box.disabled = !on;
    if (placeholder) this.box.placeholder = placeholder;
    this.update();
  }

  get value() { return this.box.value; }

  set value(v) {
    this.box.value = v;
    this.update();
  }

  focus() { this.box.focus(); }

  submit() {
    const text = this.box.value;
    if (!this.sendable(text)) return;
    if (this.onSend(text)) this.value = '';
  }

  sendable(text) {
    return !this.box.disabled && text.trim() !== '' && byteLength(text) <= TEXT_MAX;
  }

  update() {
    const text = this.box.value;
    const n = byteLength(text);
    this.send.disabled = !this.sendable(text);
    const over = n > TEXT_MAX;
    this.box.setAttribute('aria-invalid', over ? 'true' : 'false');
    this.count.classList.toggle('over', over);
    this.count.classList.toggle('near', !over && n >= TEXT_WARN);
    if (over) this.count.textContent = `${plural(n - TEXT_MAX, 'byte', 'bytes')} over the limit of ${TEXT_MAX}`;
    else if (n >= TEXT_WARN) this.count.textContent = `${plural(TEXT_MAX - n, 'byte', 'bytes')} left`;
    else this.count.textContent = '';
    this.resize();
  }

  resize() {
    const b = this.box;
    b.style.height = 'auto';
    const max = Math.round(window.innerHeight * MAX_HEIGHT_VH);
    b.style.height = `${Math.min(b.scrollHeight, max)}px`;
    b.style.overflowY = b.scrollHeight > max ? 'auto' : 'hidden';
  }
}

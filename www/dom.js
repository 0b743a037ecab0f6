// The dashboard's DOM helpers: an element builder, busy buttons, times, notifications, error text.

export const $ = (selector, root = document) => root.querySelector(selector);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A tiny element builder: h('button', { class: 'x', onclick }, 'text', child). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  el.append(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

export function errorText(err) {
  if (err?.name === 'RingHookApiError') {
    return err.status ? `${err.message} (${err.code}, HTTP ${err.status})` : `${err.message} (${err.code})`;
  }
  return err?.message ?? String(err);
}

/** Runs `work` with `button` disabled and marked busy. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

export function when(iso) {
  if (!iso) return '—';
  return h('time', { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}

export function showNotification(message, type = 'info') {
  const toast = h('div', { class: `toast toast-${type}` }, message);
  $('#toasts').append(toast);
  setTimeout(() => toast.remove(), 6000);
}

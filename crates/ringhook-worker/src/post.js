// One delivery attempt's request, handed to the runtime in one call from the Worker's wasm: the headers come as one
// string of lines (name, value, name, value...), so that a request costs one crossing instead of two strings per
// header and one call per option.
export function post(url, body, lines, signal) {
  const parts = lines.split('\n');
  const headers = new Headers();
  for (let i = 0; i + 1 < parts.length; i += 2) headers.set(parts[i], parts[i + 1]);
  return fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal });
}

// Imported first by server.mjs: from here on nothing but the single "ready" JSON line may
// reach stdout. Everything else that any module prints (console.log/info/debug, direct
// process.stdout.write) is sent to stderr instead.

const realStdoutWrite = process.stdout.write.bind(process.stdout);

process.stdout.write = (...args) => process.stderr.write(...args);
for (const method of ['log', 'info', 'debug', 'trace']) {
  // eslint-disable-next-line no-console
  console[method] = (...args) => console.error(...args);
}

let emitted = false;

/** Write the one and only stdout line (a JSON object) and never again. */
export function emitReady(object) {
  if (emitted) throw new Error('ready line already written');
  emitted = true;
  realStdoutWrite(`${JSON.stringify(object)}\n`);
}

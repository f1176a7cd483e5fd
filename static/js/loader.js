// The load cycle every view shares: a new load aborts the one in flight, fetches, renders only
// if it was not aborted meanwhile, tells the app it rendered (the browser tests wait on that) and
// otherwise shows the error card with a retry button. Views keep their own state and DOM; this
// owns only the cycle, so that no view gets an abort or an error case wrong on its own.

/**
 * Returns `load(arg)`, which resolves true when it rendered, false when it was aborted, failed or
 * rendered nothing. `load.abort()` aborts the load in flight (a view calls it on unmount).
 * - `fetch(signal, arg)`: the data (or a promise of it); pass `signal` to every `api` call.
 * - `render(data, signal, arg)`: puts it on the page (may be async); returning false means that
 *   nothing was rendered (no `app.rendered`).
 * - `view`: the name given to `app.rendered`; leave it out when something else reports.
 * - `errorIn()`: the element that gets the error card; `retry` is what its button does.
 * - `failed(e)`: handles an error itself when it returns true (a "no such session" page).
 * - `settled()`: runs after every attempt, whatever its outcome (to schedule the next poll).
 */
export function loader(app, { fetch, render, view, errorIn, retry, failed, settled }) {
  let ctrl = null;
  async function load(arg) {
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    const signal = ctrl.signal;
    try {
      const data = await fetch(signal, arg);
      if (signal.aborted) return false;
      const shown = await render(data, signal, arg);
      if (signal.aborted || shown === false) return false;
      if (view) app.rendered(view);
      return true;
    } catch (e) {
      if (!(failed && e.name !== 'AbortError' && failed(e))) app.failed(errorIn(), e, retry || (() => load()));
      return false;
    } finally {
      if (settled) settled();
    }
  }
  load.abort = () => {
    if (ctrl) ctrl.abort();
  };
  return load;
}

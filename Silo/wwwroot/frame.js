// Coalesces renders: views mark themselves dirty as events arrive, and each dirty view renders at
// most once per animation frame, however many events came in between.

const dirty = new Set();
let scheduled = false;

/** Asks for `render` to run in the next animation frame (once, however often it is asked). */
export function scheduleRender(render) {
  dirty.add(render);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(flush);
}

function flush() {
  scheduled = false;
  const renders = [...dirty];
  dirty.clear();
  for (const render of renders) {
    try {
      render();
    } catch (error) {
      console.error('render failed', error);
    }
  }
}

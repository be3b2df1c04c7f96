/**
 * Cornerstone3D keeps its state in module globals (rendering engines, caches, tool registry); this object is the
 * one place the app initialises it, made in main.tsx and handed down, so nothing else assumes it happened.
 * Cornerstone is loaded and initialised when a viewer first opens: the worklist never downloads it.
 */
export class ViewerRuntime {
  #ready: Promise<void> | undefined;

  ready(): Promise<void> {
    this.#ready ??= import('./cornerstone-init.js').then(({ initCornerstone }) => initCornerstone());
    return this.#ready;
  }
}

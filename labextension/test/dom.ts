/**
 * A React root in a fresh <div> for each test of a spec: call `mountEachTest()` at the top of the
 * spec, then use the live bindings `root` and `container`.
 */
import { act } from 'react';
import { createRoot, Root } from 'react-dom/client';

(globalThis as any).IS_REACT_ACT_ENVIRONMENT = true;

export let container: HTMLDivElement;
export let root: Root;

export function mountEachTest(): void {
  beforeEach(() => {
    container = document.createElement('div');
    document.body.appendChild(container);
    root = createRoot(container);
  });

  afterEach(() => {
    act(() => root.unmount());
    container.remove();
  });
}

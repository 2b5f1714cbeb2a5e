/** A tiny history-API router: the current path as state, navigate() to change it. */
import { useEffect, useState } from "preact/hooks";

const NAVIGATE_EVENT = "robustmq:navigate";

export function navigate(path: string, replace = false): void {
  if (path === location.pathname) return;
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  window.dispatchEvent(new Event(NAVIGATE_EVENT));
}

export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    window.addEventListener("popstate", update);
    window.addEventListener(NAVIGATE_EVENT, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(NAVIGATE_EVENT, update);
    };
  }, []);
  return path.length > 1 ? path.replace(/\/$/, "") : path;
}

/** Same-page links: no reload, middle-click and ctrl-click still open a new tab. */
export function onLinkClick(event: MouseEvent, path: string): void {
  if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
  event.preventDefault();
  navigate(path);
}

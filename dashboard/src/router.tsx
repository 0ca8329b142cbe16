/** A small history-API router: the app has a handful of routes and needs no more. */
import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from "react";

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (to === window.location.pathname + window.location.search) return;
  if (replace) window.history.replaceState(null, "", to);
  else window.history.pushState(null, "", to);
  listeners.forEach((listener) => listener());
}

export function useLocation(): string {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const update = () => setPath(window.location.pathname);
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return path;
}

export interface Match {
  name: string;
  params: Record<string, string>;
}

const ROUTES: [string, RegExp][] = [
  ["signin", /^\/signin\/?$/],
  ["workflows", /^\/workflows\/?$/],
  ["versions", /^\/workflows\/([^/]+)\/versions\/?$/],
  ["builder", /^\/workflows\/([^/]+)\/?$/],
  ["run", /^\/runs\/([^/]+)\/?$/],
  ["jobs", /^\/jobs\/?$/],
  ["webhooks", /^\/webhooks\/?$/],
  ["keys", /^\/keys\/?$/],
];

export function match(path: string): Match {
  for (const [name, pattern] of ROUTES) {
    const found = pattern.exec(path);
    if (found) return { name, params: found[1] ? { id: decodeURIComponent(found[1]) } : {} };
  }
  return { name: path === "/" || path === "" ? "home" : "notfound", params: {} };
}

export function Link({ to, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}

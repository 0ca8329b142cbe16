import { useCallback, useEffect, useRef, useState } from "react";
import { canonical } from "./diff";
import { nextDelay, type Backoff } from "./poll";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => Promise<void>;
  setData: (value: T) => void;
}

/** Loads on mount and when `deps` change; `reload` fetches again without clearing what is shown. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const current = useRef(load);
  current.current = load;
  const generation = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const value = await current.current();
      if (mine === generation.current) {
        setData(value);
        setError(undefined);
      }
    } catch (caught) {
      if (mine === generation.current) setError(caught);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);
  useEffect(() => {
    void reload();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  return { data, error, loading, reload, setData };
}

/** Polls `load` with backoff until `done(value)`; stops on unmount. */
export function usePoll<T>(load: () => Promise<T>, done: (value: T) => boolean, backoff: Backoff, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loader = useRef(load);
  loader.current = load;
  const finished = useRef(done);
  finished.current = done;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delay = backoff.min;
    let last = "";
    const step = async () => {
      let changed = false;
      let failed = false;
      try {
        const value = await loader.current();
        if (stopped) return;
        const seen = canonical(value);
        changed = seen !== last;
        last = seen;
        if (changed) setData(value);
        setError(undefined);
        setLoading(false);
        if (finished.current(value)) return;
      } catch (caught) {
        if (stopped) return;
        failed = true;
        setError(caught);
        setLoading(false);
      }
      delay = nextDelay(delay, changed, backoff, failed);
      timer = setTimeout(step, delay);
    };
    void step();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(async () => setTick((t) => t + 1), []);
  return { data, error, loading, reload, setData };
}

/** `value` after it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

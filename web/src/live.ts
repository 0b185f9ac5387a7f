/**
 * The cluster's lists, loaded once and refreshed when the controller's change feed says a topic
 * changed (no polling). A broken feed is retried with a growing pause, bounded.
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Api } from "./api";
import type { Domain, Host, Pool, Task, Volume } from "./types";

export interface ClusterData {
  hosts: Host[];
  pools: Pool[];
  volumes: Volume[];
  domains: Domain[];
  tasks: Task[];
  loaded: boolean;
  live: boolean;
  error: string | null;
}

type Topic = "hosts" | "pools" | "volumes" | "domains" | "tasks";
const TOPICS: Topic[] = ["hosts", "pools", "volumes", "domains", "tasks"];
const RETRY_MS_MIN = 1000;
const RETRY_MS_MAX = 30_000;

const EMPTY: ClusterData = {
  hosts: [],
  pools: [],
  volumes: [],
  domains: [],
  tasks: [],
  loaded: false,
  live: false,
  error: null,
};

export function useClusterData(api: Api): [ClusterData, (topics?: Topic[]) => Promise<void>] {
  const [data, setData] = useState<ClusterData>(EMPTY);
  const apiRef = useRef(api);
  apiRef.current = api;

  /** Why each list failed its last load, until it loads: one bad list hides none of the others. */
  const failures = useRef(new Map<Topic, string>());
  const refresh = useCallback(async (topics: Topic[] = TOPICS) => {
    const a = apiRef.current;
    const results = await Promise.allSettled(topics.map((topic) => a[topic]()));
    const loaded: Partial<Pick<ClusterData, Topic>> = {};
    results.forEach((result, i) => {
      const topic = topics[i] as Topic;
      if (result.status === "fulfilled") {
        Object.assign(loaded, { [topic]: result.value });
        failures.current.delete(topic);
      } else {
        const reason: unknown = result.reason;
        failures.current.set(topic, reason instanceof Error ? reason.message : String(reason));
      }
    });
    const error = [...new Set(failures.current.values())].join(" ") || null;
    setData((old) => ({ ...old, ...loaded, loaded: old.loaded || error === null, error }));
  }, []);

  useEffect(() => {
    const stop = new AbortController();
    let retryMs = RETRY_MS_MIN;
    void refresh();
    void (async () => {
      while (!stop.signal.aborted) {
        try {
          await api.follow((change) => {
            retryMs = RETRY_MS_MIN;
            setData((old) => (old.live ? old : { ...old, live: true }));
            const topics = change.topics.filter((t): t is Topic => TOPICS.includes(t as Topic));
            if (topics.length > 0) void refresh(topics);
          }, stop.signal);
        } catch {
          // dropped: shown as "not live" below, retried after a pause
        }
        setData((old) => ({ ...old, live: false }));
        if (stop.signal.aborted) return;
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        retryMs = Math.min(RETRY_MS_MAX, retryMs * 2);
        void refresh();
      }
    })();
    return () => stop.abort();
  }, [api, refresh]);

  return [data, refresh];
}

/** What the web UI needs beside the REST API: console tickets, the change feed, its files. */
import type { Controller } from "../cluster/controller/controller.js";
import { hostState } from "../cluster/controller/host-state.js";
import type { Logger } from "../foundation/log.js";
import { ChangeFeed } from "./change-feed.js";
import { ConsoleTickets } from "./console-tickets.js";
import { HostMetrics } from "./host-metrics.js";
import { loadStaticAssets, type StaticAssets } from "./static-assets.js";
import { errorMessage } from "../foundation/errors.js";

export interface WebServices {
  tickets: ConsoleTickets;
  feed: ChangeFeed;
  /** Recent samples of each host from its agent's reports, for the UI's charts. */
  metrics: HostMetrics;
  assets: StaticAssets;
  close(): void;
}

const TASKS_WATCHED = 20;

export function createWebServices(
  controller: Controller,
  log: Logger,
  options: { assetsDir?: string } = {},
): WebServices {
  const { store } = controller;
  const feed = new ChangeFeed(
    async () => {
      const [hosts, pools, volumes, domains, tasks, events] = await Promise.all([
        store.listHosts(),
        store.listPools(),
        store.listVolumesJson(),
        store.listDomains(),
        store.listTasks({ limit: TASKS_WATCHED }),
        store.listEvents({ limit: 1 }),
      ]);
      return {
        // With each host's state: a lease that lapses changes no record, but the page shows it.
        hosts: JSON.stringify(
          hosts.map((h) => ({ ...h, state: hostState(controller.ha.state(h.id), h.maintenance) })),
        ),
        pools: JSON.stringify(pools),
        volumes,
        domains: JSON.stringify(domains),
        tasks: JSON.stringify(tasks),
        // The newest event's id: it changes with every new event.
        events: String(events.at(-1)?.id ?? 0),
      };
    },
    (error) => log.warn(`change feed: ${errorMessage(error)}`),
  );
  const assets = loadStaticAssets(options.assetsDir);
  if (assets.missing) log.warn(assets.missing);
  // A new event is told at once to those who listen, not at the next interval.
  const unlistenEvents = controller.events.listen(() => {
    if (feed.listenerCount > 0) void feed.check();
  });
  const metrics = new HostMetrics();
  const unlistenReports = controller.agents.onReport((hostId, status, atMs) =>
    metrics.record(hostId, status, atMs),
  );
  return {
    tickets: new ConsoleTickets(),
    feed,
    metrics,
    assets,
    close: () => {
      unlistenEvents();
      unlistenReports();
      feed.stop();
    },
  };
}

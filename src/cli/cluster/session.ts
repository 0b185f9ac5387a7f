/** What every control-plane command shares: the API client from flags/env/config, and output. */
import { ApiClient } from "../client/api-client.js";
import { resolveCaPem } from "../client/ca-trust.js";
import { cliConfigFlags, cliConfigPath, resolveCliConfig } from "../client/cli-config.js";
import { apiTaskSource } from "../client/task-source.js";
import { readTokenInput } from "../client/token-input.js";
import type { TaskRecord } from "../../cluster/model.js";
import { followTask } from "../output/task-follower.js";
import { printJson } from "../output/json.js";

export const sessionFlags = {
  ...cliConfigFlags,
  json: { type: "boolean" },
  "no-wait": { type: "boolean" },
} as const;

export interface Session {
  client: ApiClient;
  json: boolean;
  wait: boolean;
}

export async function openSession(values: {
  controller?: string | boolean;
  token?: string | boolean;
  "token-file"?: string | boolean;
  json?: boolean | string;
  "no-wait"?: boolean | string;
}): Promise<Session> {
  const token = await readTokenInput(values);
  const flags = {
    ...(typeof values.controller === "string" ? { controller: values.controller } : {}),
    ...(token !== undefined ? { token } : {}),
  };
  const settings = await resolveCliConfig({ flags });
  // The controller's CA when `login` or `up` pinned one (or ETHERPLANE_CA_FILE).
  const caPem = resolveCaPem(cliConfigPath());
  return {
    client: new ApiClient({ baseUrl: settings.controller, token: settings.token, caPem }),
    json: values.json === true,
    wait: values["no-wait"] !== true,
  };
}

/** Prints a mutation's result: follows its task (progress bar) unless --no-wait; --json prints the record. */
export async function finishTask(
  session: Session,
  reply: { task: TaskRecord; warnings?: string[] },
  done: (task: TaskRecord) => string,
): Promise<void> {
  for (const warning of reply.warnings ?? []) process.stderr.write(`warning: ${warning}\n`);
  let task = reply.task;
  if (session.wait) {
    task = await followTask(apiTaskSource(session.client), task.id, {
      output: process.stderr,
      isTTY: process.stderr.isTTY === true,
    });
  }
  if (session.json) printJson({ ...reply, task });
  else
    process.stdout.write(
      session.wait
        ? `${done(task)}\n`
        : `task ${task.id} started: ${task.message} (follow it with etherplane task show ${task.id})\n`,
    );
}

/**
 * A fake command runner for the xen driver's unit tests (no Xen on the test machine): it records
 * every argv and answers from the real xl output captured in test/fixtures/xl/ (see the README
 * there), so the driver's command sequences and error mapping are tested against what xl
 * really prints.
 */
import { readFileSync } from "node:fs";
import { fixturePath } from "../../../../test/lab/repo.js";
import type { CommandOptions, CommandResult, CommandRunner } from "../../../host/command-runner.js";

export type FakeAnswer =
  CommandResult | Error | ((argv: readonly string[]) => CommandResult | Promise<CommandResult>);

export interface FakeCall {
  argv: string[];
  timeoutMs?: number;
}

/** A file of test/fixtures/xl/guests/ (or of test/fixtures/xl/ with `dir: ".."`). */
export function xlFixture(name: string, dir = "guests"): string {
  return readFileSync(fixturePath("xl", dir, name), "utf8");
}

export function ok(stdout = "", stderr = ""): CommandResult {
  return { code: 0, stdout, stderr };
}

export function failed(code: number, stderr: string): CommandResult {
  return { code, stdout: "", stderr };
}

/** `xl list -v NAME` from a captured `xl list -v`: the header and that row, or xl's error. */
export function listOne(listText: string, name: string): CommandResult {
  const [header, ...rows] = listText.split("\n");
  const row = rows.find((line) => line.split(/\s+/)[0] === name);
  if (row === undefined) {
    // The captured message for `nosuch`, with the name asked for.
    return failed(1, xlFixture("xl-list-v-unknown.stderr.txt").replace("nosuch", name));
  }
  return ok(`${header}\n${row}\n`);
}

export class FakeXlRunner {
  readonly calls: FakeCall[] = [];
  private readonly answers: Array<{ prefix: readonly string[]; answer: FakeAnswer }> = [];

  /**
   * Answers calls whose arguments after the binary start with `prefix`; the longest matching
   * prefix wins, then the latest given.
   */
  on(prefix: readonly string[], answer: FakeAnswer): this {
    this.answers.unshift({ prefix, answer });
    this.answers.sort((a, b) => b.prefix.length - a.prefix.length);
    return this;
  }

  /** The calls' arguments after the binary, joined by spaces, for compact assertions. */
  commands(): string[] {
    return this.calls.map((call) => call.argv.slice(1).join(" "));
  }

  readonly run: CommandRunner = async (argv, options?: CommandOptions) => {
    const call: FakeCall = { argv: [...argv] };
    if (options?.timeoutMs !== undefined) call.timeoutMs = options.timeoutMs;
    this.calls.push(call);
    const args = argv.slice(1);
    const found = this.answers.find(({ prefix }) => prefix.every((word, i) => args[i] === word));
    if (found === undefined) throw new Error(`fake xl: no answer for ${args.join(" ")}`);
    const { answer } = found;
    if (answer instanceof Error) throw answer;
    return typeof answer === "function" ? answer(argv) : answer;
  };
}

/** `--json` output: the API's value as it came, indented, one document per command. */
export function printJson(value: unknown, output: NodeJS.WritableStream = process.stdout): void {
  // JSON.stringify(undefined) is undefined, not a document; an empty reply prints as null.
  output.write(JSON.stringify(value ?? null, null, 2) + "\n");
}

/** `etherplane token create NAME --role R --local [--data-dir DIR] [--out FILE]` (local-token.ts). */
import { createLocalToken, LOCAL_TOKEN_ROLES } from "../../daemon/local-token.js";
import { usageError } from "../args.js";
import { printJson } from "../output/json.js";

export async function localTokenCommand(
  name: string | undefined,
  values: { role?: string | undefined; "data-dir"?: string | undefined; out?: string | undefined },
  json: boolean,
  localTokenUsage: string,
): Promise<void> {
  if (!name || !values.role)
    throw usageError("token create --local: give NAME and --role", localTokenUsage);
  const role = LOCAL_TOKEN_ROLES.find((r) => r === values.role);
  if (!role)
    throw usageError(
      `token create --local: --role ${values.role}: choose ${LOCAL_TOKEN_ROLES.join(", ")}`,
      localTokenUsage,
    );
  // The token file, like the store, is for the controller's user alone.
  process.umask(0o077);
  const dataDir = values["data-dir"] ?? process.env["ETHERPLANE_DATA_DIR"] ?? "/var/lib/etherplane";
  const { token, file } = await createLocalToken({
    dataDir,
    name,
    role,
    ...(values.out ? { out: values.out } : {}),
  });
  if (json) return printJson({ token, file });
  process.stdout.write(
    `created the ${token.role} token "${token.name}" (${token.id}) in the store of ${dataDir}\n` +
      `its secret is saved in ${file} (mode 0600); log in with: ` +
      `etherplane login --controller URL --token-file ${file}\n`,
  );
}

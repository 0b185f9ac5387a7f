/**
 * Tokens (admin): the list (never a secret), create one (its secret shown this once, to copy),
 * revoke one. A revoked or expired token's browser sessions return to sign-in on their next call.
 */
import { useEffect, useState } from "preact/hooks";
import { ago } from "../format";
import type { Token } from "../types";
import { message, type PageProps } from "./common";

const EXPIRY_CHOICES = [
  { label: "never", seconds: 0 },
  { label: "1 hour", seconds: 3600 },
  { label: "1 day", seconds: 86_400 },
  { label: "30 days", seconds: 30 * 86_400 },
];

export function TokensPage({ api, isAdmin, me }: PageProps & { me: string }) {
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [name, setName] = useState("");
  const [role, setRole] = useState("viewer");
  const [expiry, setExpiry] = useState("0");
  const load = () =>
    api
      .tokens()
      .then(setTokens)
      .catch((e: unknown) => setError(message(e)));
  useEffect(() => {
    if (isAdmin) void load();
  }, [api, isAdmin]);
  if (!isAdmin) return <p>Only an admin token sees the tokens.</p>;
  const when = (ms: number | null) =>
    ms === null ? "never" : ms < Date.now() ? `expired ${ago(ms)}` : new Date(ms).toLocaleString();
  return (
    <>
      <h1>Tokens</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {secret && (
        <div class="panel" role="status" data-testid="new-secret">
          <p>
            The secret of <strong>{secret.name}</strong>, shown this once: copy it now.
          </p>
          <input readOnly aria-label={`secret of ${secret.name}`} value={secret.secret} />
          <button type="button" class="quiet" onClick={() => setSecret(null)}>
            I have copied it
          </button>
        </div>
      )}
      <div class="scroll">
        <table data-testid="token-list">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(tokens ?? []).map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>
                  <span class={`role role-${t.role}`}>{t.role}</span>
                </td>
                <td>{ago(t.createdMs)}</td>
                <td>{when(t.expiresMs)}</td>
                <td>{t.revoked ? "revoked" : "valid"}</td>
                <td class="row-actions">
                  {!t.revoked && t.id !== me && (
                    <button
                      type="button"
                      class="small danger"
                      aria-label={`revoke ${t.name}`}
                      onClick={() => {
                        if (!confirm(`Revoke ${t.name}? Whoever uses it is signed out.`)) return;
                        setError(null);
                        api
                          .revokeToken(t.id)
                          .then(load)
                          .catch((e: unknown) => setError(message(e)));
                      }}
                    >
                      revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <section aria-labelledby="token-create-h" class="panel">
        <h2 id="token-create-h">Create a token</h2>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            setError(null);
            const seconds = Number(expiry);
            api
              .createToken({
                name: name.trim(),
                role,
                ...(seconds > 0 ? { expiresInSeconds: seconds } : {}),
              })
              .then(async (r) => {
                setSecret({ name: r.token.name, secret: r.secret });
                setName("");
                await load();
              })
              .catch((err: unknown) => setError(message(err)));
          }}
        >
          <label>
            Token name
            <input
              required
              maxLength={64}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </label>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.currentTarget.value)}>
              <option value="viewer">viewer</option>
              <option value="operator">operator</option>
              <option value="admin">admin</option>
              <option value="join">join (a new host)</option>
            </select>
          </label>
          <label>
            Expires after
            <select value={expiry} onChange={(e) => setExpiry(e.currentTarget.value)}>
              {EXPIRY_CHOICES.map((c) => (
                <option key={c.seconds} value={String(c.seconds)}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
          <button type="submit">Create token</button>
        </form>
      </section>
    </>
  );
}

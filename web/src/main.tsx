/** The web UI: sign-in with a token (kept in sessionStorage only), then the pages. */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Api, ApiError } from "./api";
import { useClusterData } from "./live";
import { DomainPage } from "./pages/domain-page";
import { DomainsPage } from "./pages/domains";
import { OverviewPage } from "./pages/overview";
import { VolumesPage } from "./pages/volumes";
import { ConsolePage } from "./pages/console";
import { AuditPage } from "./pages/audit";
import { HostsPage } from "./pages/hosts";
import { NetworksPage } from "./pages/networks";
import { TasksPage } from "./pages/tasks";
import { TokensPage } from "./pages/tokens";
import type { WhoAmI } from "./types";

const TOKEN_KEY = "etherplane.token";

interface Session {
  api: Api;
  me: WhoAmI;
}

async function open(token: string): Promise<Session> {
  const api = new Api(token);
  const me = await api.whoami();
  if (me.role === "agent" || me.role === "join")
    throw new ApiError(403, "FORBIDDEN", `a ${me.role} token is for hosts, not people`);
  return { api, me };
}

/** The longest a timer may wait (setTimeout's limit); a later expiry is checked again then. */
const TIMER_MS_MAX = 2 ** 31 - 1;

function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [restoring, setRestoring] = useState(true);
  const [notice, setNotice] = useState<string | null>(null);
  const signOut = (why: string | null) => {
    sessionStorage.removeItem(TOKEN_KEY);
    setNotice(why);
    setSession(null);
  };

  // The controller refuses a revoked or expired token (401): back to sign-in, saying why.
  useEffect(() => {
    if (!session) return;
    session.api.onSignedOut = (reason) =>
      signOut(`Your session ended: ${reason}. Sign in again with a valid token.`);
    const expires = session.me.expiresMs;
    if (expires === null) return;
    let timer: ReturnType<typeof setTimeout>;
    const check = () => {
      const left = expires - Date.now();
      if (left <= 0)
        return signOut(
          `Your token expired at ${new Date(expires).toLocaleString()}. Sign in again with a valid token.`,
        );
      timer = setTimeout(check, Math.min(left + 50, TIMER_MS_MAX));
    };
    check();
    return () => {
      clearTimeout(timer);
      session.api.onSignedOut = null;
    };
  }, [session]);

  useEffect(() => {
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (!saved) return setRestoring(false);
    open(saved)
      .then(setSession)
      .catch((error: unknown) => {
        sessionStorage.removeItem(TOKEN_KEY);
        const reason = error instanceof Error ? error.message : String(error);
        setNotice(`Your session ended: ${reason}. Sign in again with a valid token.`);
      })
      .finally(() => setRestoring(false));
  }, []);

  if (restoring) return <p class="loading">Loading etherplane…</p>;
  if (!session)
    return (
      <SignIn
        notice={notice}
        onSignIn={(token, s) => {
          sessionStorage.setItem(TOKEN_KEY, token);
          setNotice(null);
          setSession(s);
        }}
      />
    );
  return <Shell session={session} onSignOut={() => signOut(null)} />;
}

function SignIn({
  onSignIn,
  notice,
}: {
  onSignIn: (token: string, session: Session) => void;
  notice: string | null;
}) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      <h1>etherplane</h1>
      {notice && (
        <p class="error" role="alert" data-testid="signed-out">
          {notice}
        </p>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          open(token.trim())
            .then((s) => onSignIn(token.trim(), s))
            .catch((err: unknown) => setError(err instanceof Error ? err.message : String(err)))
            .finally(() => setBusy(false));
        }}
      >
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          required
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
          aria-describedby="token-help"
        />
        <p id="token-help" class="help">
          An admin, operator or viewer token (
          <code>etherplane token create NAME --role viewer</code>
          ). It is kept in this tab only and forgotten when the tab closes.
        </p>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p class="error" role="alert">
            Sign-in refused: {error}
          </p>
        )}
      </form>
    </main>
  );
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const update = () => setHash(location.hash);
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return hash;
}

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const hash = useHash();
  const [data, refresh] = useClusterData(session.api);
  const canWrite = session.me.role === "admin" || session.me.role === "operator";
  const isAdmin = session.me.role === "admin";
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const page = parts[0] || "overview";
  const props = { api: session.api, data, refresh, canWrite, isAdmin };
  let content;
  if (page === "domains" && parts[1] && parts[2] === "console")
    content = <ConsolePage {...props} name={parts[1]} />;
  else if (page === "domains" && parts[1]) content = <DomainPage {...props} name={parts[1]} />;
  else if (page === "domains") content = <DomainsPage {...props} />;
  else if (page === "volumes") content = <VolumesPage {...props} />;
  else if (page === "hosts") content = <HostsPage {...props} />;
  else if (page === "networks") content = <NetworksPage {...props} />;
  else if (page === "tasks") content = <TasksPage {...props} />;
  else if (page === "tokens") content = <TokensPage {...props} me={session.me.tokenId} />;
  else if (page === "audit") content = <AuditPage {...props} />;
  else content = <OverviewPage {...props} />;
  const link = (to: string, label: string) => (
    <a href={`#/${to}`} aria-current={page === to ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <>
      <header class="top">
        <span class="brand">etherplane</span>
        <nav aria-label="main">
          {link("overview", "Overview")}
          {link("domains", "Domains")}
          {link("volumes", "Volumes")}
          {link("hosts", "Hosts")}
          {link("networks", "Networks")}
          {link("tasks", "Tasks")}
          {isAdmin && link("tokens", "Tokens")}
          {isAdmin && link("audit", "Audit")}
        </nav>
        <span class="who" data-testid="whoami">
          {session.me.name} <span class={`role role-${session.me.role}`}>{session.me.role}</span>
          {session.me.expiresMs !== null && (
            <span class="muted" title={new Date(session.me.expiresMs).toLocaleString()}>
              {" "}
              until {new Date(session.me.expiresMs).toLocaleTimeString()}
            </span>
          )}
        </span>
        <span class={data.live ? "live on" : "live"} title="updates pushed by the controller">
          {data.live ? "live" : "offline"}
        </span>
        <button type="button" class="quiet" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {data.error && (
        <p class="error banner" role="alert">
          {data.error}
        </p>
      )}
      <main id="content">{content}</main>
    </>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}

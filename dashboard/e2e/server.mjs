// Starts a real Central Logger (gunicorn + PostgreSQL) on a fresh database for end-to-end runs,
// with two tenants, their API keys and dashboard users created through the manage.py commands.
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PYTHON = process.env.CL_PYTHON || path.join(ROOT, ".venv/bin/python");
const GUNICORN = path.join(path.dirname(PYTHON), "gunicorn");

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export async function startServer({ databaseUrl, fresh = !process.env.E2E_KEEP_DB, clients = ["alpha", "beta"], userSuffix = "", extraEnv = {} }) {
  const port = Number(process.env.E2E_PORT || (await freePort()));
  const env = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    DEBUG: "false",
    SECRET_KEY: randomBytes(32).toString("hex"),
    API_KEY_PEPPER: randomBytes(32).toString("hex"),
    SECURE_COOKIES: "false",
    ALLOWED_HOSTS: "127.0.0.1,localhost",
    ENVIRONMENT: "test",
    REDIS_URL: "",
    WEB_CONCURRENCY: "2",
    GUNICORN_THREADS: "8",
    GUNICORN_ACCESSLOG: "/dev/null",
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "ERROR",
    ...extraEnv,
  };
  const manage = (...args) => execFileSync(PYTHON, ["manage.py", ...args], { cwd: ROOT, env, encoding: "utf8" });

  if (fresh) {
    // A fresh database every run, so the known data is all there is.
    execFileSync(
      PYTHON,
      [
        "-c",
        `import sys, psycopg
from urllib.parse import urlparse
u = urlparse(sys.argv[1]); name = u.path.lstrip("/")
admin = u._replace(path="/postgres").geturl()
with psycopg.connect(admin, autocommit=True) as c:
    c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    c.execute(f'CREATE DATABASE "{name}"')`,
        databaseUrl,
      ],
      { cwd: ROOT, env, stdio: "inherit" },
    );
  }
  manage("migrate", "--noinput", "-v0");
  manage("collectstatic", "--noinput", "-v0");

  const tenants = {};
  for (const slug of clients) {
    if (fresh) manage("create_client", slug, "--name", slug === "alpha" ? "Alpha Support" : "Beta Retail");
    tenants[slug] = { key: manage("issue_api_key", slug, "--scopes", "ingest,read", "--quiet").trim() };
  }
  const users = {};
  const addUser = (client, name, role = "viewer") => {
    const username = name + userSuffix;
    if (!clients.includes(client)) return;
    const out = manage("add_dashboard_user", client, username, "--email", `${username}@example.com`, "--role", role, "--no-input");
    const lines = out.trim().split("\n");
    if (lines.includes("Password (shown only once):")) users[name] = lines.at(-1).trim();
  };
  addUser("alpha", "ana"); // alpha only
  addUser("beta", "ben"); // beta only
  addUser("alpha", "max"); // both: the client switcher
  addUser("beta", "max");
  addUser("alpha", "ada", "admin"); // alpha's admin: changes alert rules

  const child = spawn(GUNICORN, ["central_logger.wsgi", "-c", "gunicorn.conf.py"], { cwd: ROOT, env, stdio: ["ignore", "inherit", "inherit"] });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const response = await fetch(`${base}/health`);
      if (response.ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null) throw new Error("gunicorn exited");
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    base,
    manage,
    tenants,
    users,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

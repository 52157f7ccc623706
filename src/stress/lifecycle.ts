/**
 * How a stress run ends early. The first SIGINT/SIGTERM/SIGHUP (or the death of the `npm`/`npx`
 * process that launched us) marks the run interrupted: the run stops its faults and its launching,
 * reports what it measured, stops its runtimes and server, removes what it created, and exits
 * 128 + the signal number. A second signal exits at once; so does a crash. Either way, on the way
 * out, no child process is left running and the temp data directories registered here are removed.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { constants } from "node:os";

const HANDLED: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

export class Interruption {
  private signalName: NodeJS.Signals | null = null;
  private readonly callbacks = new Set<() => void>();
  private readonly onSignal = (signal: NodeJS.Signals) => this.interrupt(signal);
  private watch: NodeJS.Timeout | null = null;
  private readonly tempDirs = new Set<string>();
  private readonly onExit = () => leaveNothingBehind(this.tempDirs);

  /** Handle SIGINT/SIGTERM/SIGHUP from now on, and notice when the npm launcher is gone. */
  install(): void {
    for (const s of HANDLED) process.on(s, this.onSignal);
    process.on("exit", this.onExit);
    this.watch = watchLauncher(() => {
      console.error("stress: the npm/npx process that started this run is gone; stopping as on SIGTERM");
      this.interrupt("SIGTERM");
    });
  }

  /** Remove `dir` if the process exits before the run's own cleanup did (a crash, a 2nd signal). */
  removeOnExit(dir: string): void {
    this.tempDirs.add(dir);
  }

  /** The run's own cleanup removed `dir`. */
  removed(dir: string): void {
    this.tempDirs.delete(dir);
  }

  dispose(): void {
    for (const s of HANDLED) process.off(s, this.onSignal);
    process.off("exit", this.onExit);
    if (this.watch) clearInterval(this.watch);
    this.callbacks.clear();
  }

  get interrupted(): boolean {
    return this.signalName !== null;
  }

  get signal(): NodeJS.Signals | null {
    return this.signalName;
  }

  /** 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP. */
  get exitCode(): number {
    return 128 + (this.signalName ? (constants.signals[this.signalName] ?? 15) : 15);
  }

  /** Run `fn` on the first interruption (at once if it already happened); returns an unsubscribe. */
  onInterrupt(fn: () => void): () => void {
    if (this.interrupted) {
      fn();
      return () => {};
    }
    this.callbacks.add(fn);
    return () => this.callbacks.delete(fn);
  }

  interrupt(signal: NodeJS.Signals): void {
    if (this.signalName !== null) {
      // The user insists: no more cleanup than making sure no child process outlives us.
      console.error(`\nstress: ${signal} again: killing child processes and exiting now`);
      process.exit(128 + (constants.signals[signal] ?? 15)); // the exit handler kills and removes
    }
    this.signalName = signal;
    console.error(
      `\nstress: ${signal}: stopping (faults, launching, runtimes), reporting what was measured and ` +
        "cleaning up; send it again to exit at once",
    );
    for (const fn of [...this.callbacks]) fn();
    this.callbacks.clear();
  }
}

interface ProcessRow {
  pid: number;
  ppid: number;
  comm: string;
}

function processTable(): ProcessRow[] {
  const out = execFileSync("ps", ["-A", "-o", "pid=,ppid=,comm="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 3)
    .map(([pid, ppid, ...comm]) => ({ pid: Number(pid), ppid: Number(ppid), comm: comm.join(" ") }));
}

/** Every process below `root` (children, their children, …). */
export function descendantsOf(root: number, table: ProcessRow[] = processTable()): ProcessRow[] {
  const found: ProcessRow[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const row of table) {
      if (parents.has(row.ppid) && !parents.has(row.pid)) {
        parents.add(row.pid);
        found.push(row);
        grew = true;
      }
    }
  }
  return found;
}

/**
 * Synchronous last resort: a PostgreSQL server we started gets SIGQUIT (immediate shutdown: the
 * postmaster takes its backends down with it), every other descendant SIGKILL. Returns the pids
 * of the servers.
 */
export function killChildProcessesNow(): number[] {
  const servers: number[] = [];
  try {
    const table = processTable();
    for (const row of descendantsOf(process.pid, table)) {
      const parent = table.find((r) => r.pid === row.ppid);
      const isBackend = row.comm === "postgres" && parent?.comm === "postgres";
      if (isBackend) continue; // its postmaster ends it
      if (row.comm === "postgres") servers.push(row.pid);
      try {
        process.kill(row.pid, row.comm === "postgres" ? "SIGQUIT" : "SIGKILL");
      } catch {
        // already gone
      }
    }
  } catch {
    // no `ps`: nothing more we can do synchronously
  }
  return servers;
}

/**
 * On the way out (synchronously: this runs in the `exit` event): kill every child process, give a
 * PostgreSQL server up to 5 s to finish its immediate shutdown, then remove the temp directories.
 */
function leaveNothingBehind(tempDirs: ReadonlySet<string>): void {
  const servers = killChildProcessesNow();
  const deadline = Date.now() + 5000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (servers.some(isRunning) && Date.now() < deadline) Atomics.wait(pause, 0, 0, 50);
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort on the way out
    }
  }
}

/** Running, i.e. neither gone nor a zombie waiting for us to reap it. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The parent pid of `pid` from /proc (Linux); null when unknown. */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return "";
  }
}

/** npm names its process after the command ("npm run stress …", "npm exec …"). */
function isNpm(pid: number): boolean {
  return /^(npm|npx)( |$)|\/(npm|npx)-cli\.js( |$)/.test(commandOf(pid));
}

/**
 * `npm run stress` and `npx …` start us through `sh -c` (and tsx's launcher). A SIGTERM sent to
 * npm kills that shell, which does not pass the signal on, so the run would go on, orphaned. When
 * started by npm/npx, watch the chain of processes up to npm: if any link breaks (a process in it
 * died), behave as on SIGTERM. Outside npm, and where /proc is unavailable, nothing is watched.
 */
function watchLauncher(onGone: () => void): NodeJS.Timeout | null {
  if (!process.env.npm_command) return null;
  const links: Array<[child: number, parent: number]> = [];
  let child = process.pid;
  for (let depth = 0; depth < 5; depth++) {
    const parent = parentOf(child);
    if (parent === null || parent <= 1) break;
    links.push([child, parent]);
    if (isNpm(parent)) break;
    child = parent;
  }
  if (links.length === 0 || !isNpm(links.at(-1)![1])) return null;
  const timer = setInterval(() => {
    if (links.some(([c, p]) => parentOf(c) !== p)) {
      clearInterval(timer);
      onGone();
    }
  }, 500);
  timer.unref();
  return timer;
}

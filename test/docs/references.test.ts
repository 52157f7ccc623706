/**
 * Every reference in a comment or document resolves inside this repository: "docs/<file>.md §N"
 * (also "<file>.md §N", "[<file>.md §N](<file>.md)", "[<file>.md](<file>.md) §N", lists and ranges
 * such as "§2, §4.5" or "§1–§2") names a page of docs/ with a heading numbered N; a bare "§N" in a
 * page of docs/ names a heading of that page, and outside docs/ is refused (it must say which
 * page); a file named "docs/<file>.md" exists. Specification documents that are not part of the
 * repository, and issue numbers, are not cited at all.
 *
 * Not scanned: migrations/NNNN_*.sql and docs/migration-diffs/ (generated from them): applied
 * migrations are immutable, comments included, so what they cite stays as it was written.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const DOCS = join(ROOT, "docs");

/** Folders scanned (recursively) and the extensions read in them. */
const SCANNED: [string, RegExp][] = [
  ["src", /\.ts$/],
  ["test", /\.ts$/],
  ["scripts", /\.ts$/],
  ["sql", /\.sql$/],
  ["migrations/post-migration", /\.sql$/],
  ["examples", /\.(ts|md)$/],
  ["docs", /\.md$/],
];
const SKIPPED_FOLDERS = new Set(["node_modules", "dist", "migration-diffs"]);

/**
 * Citations of documents outside the repository, and issue numbers. Written as patterns so that
 * this file does not contain the phrases it forbids.
 */
const FORBIDDEN: [RegExp, string][] = [
  [/\bcontract\s§/i, "a section of the external contract (cite docs/store-contract.md)"],
  [/\bnotes\s§/i, "a section of the external runtime document (cite docs/replay-rules.md)"],
  [/\bruntime[-\s]notes\b/i, "the external runtime document (cite docs/replay-rules.md)"],
  [/\bprovider-?contract\b/i, "the external contract (cite docs/store-contract.md)"],
  [/\bcatalog(?=ue)/i, "the external list of validation tests (cite docs/validation.md)"],
  [/\bissue\s+#?\d/i, "an issue number (describe the rule instead)"],
  [/\bsteps\sc[–-]l\b/i, "a step range of the external runtime document"],
];

/** A reference to a page, optionally followed by a run of sections: "§2, §4.5 step 7 and §9". */
const PAGE_REFERENCE =
  /(?<![\w/.-])(docs\/)?([a-z][a-z0-9-]*)\.md(?:\]\([^)\s]*\))?((?:[ \t]*(?:,|and|or|–|-|to)?[ \t]*§\d+(?:\.\d+)*(?:[ \t]+step[ \t]+[a-z0-9′]+)?)*)/g;
const SECTION = /§(\d+(?:\.\d+)*)/g;

async function filesUnder(dir: string, pattern: RegExp): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIPPED_FOLDERS.has(entry.name)) found.push(...(await filesUnder(join(dir, entry.name), pattern)));
    } else if (pattern.test(entry.name)) {
      found.push(join(dir, entry.name));
    }
  }
  return found;
}

/** Every scanned file but this one, whose examples and patterns would match themselves. */
async function scannedFiles(): Promise<string[]> {
  const files = [join(ROOT, "README.md")];
  for (const [folder, pattern] of SCANNED) files.push(...(await filesUnder(join(ROOT, folder), pattern)));
  return files.filter((file) => file !== import.meta.filename);
}

/** The section numbers of a page: "## 4. The orchestrator queue" → 4, "### 4.1 Enqueue" → 4.1. */
function sectionsOf(markdown: string): Set<string> {
  const sections = new Set<string>();
  for (const line of markdown.split("\n")) {
    const heading = /^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s/.exec(line);
    if (heading) sections.add(heading[1]!);
  }
  return sections;
}

const pages = new Map<string, Set<string> | null>();
async function pageSections(page: string): Promise<Set<string> | null> {
  if (!pages.has(page)) {
    const path = join(DOCS, `${page}.md`);
    pages.set(page, existsSync(path) ? sectionsOf(await readFile(path, "utf8")) : null);
  }
  return pages.get(page)!;
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

interface Problem {
  where: string;
  problem: string;
}

async function problemsIn(file: string): Promise<Problem[]> {
  const text = await readFile(file, "utf8");
  const name = relative(ROOT, file);
  const isPage = name.startsWith("docs/") && name.endsWith(".md");
  const problems: Problem[] = [];
  const at = (index: number, problem: string) =>
    problems.push({ where: `${name}:${lineOf(text, index)}`, problem });

  for (const [pattern, what] of FORBIDDEN) {
    for (const match of text.matchAll(new RegExp(pattern.source, `${pattern.flags}g`))) {
      at(match.index, `cites ${what}: "${text.slice(match.index, match.index + 40).split("\n")[0]}"`);
    }
  }

  const covered: [number, number][] = [];
  for (const match of text.matchAll(PAGE_REFERENCE)) {
    const [whole, prefix, page, run] = match;
    covered.push([match.index, match.index + whole.length]);
    const sections = await pageSections(page!);
    const cited = [...run!.matchAll(SECTION)].map((s) => s[1]!);
    // A plain "name.md" without sections may be another file (README.md, CHANGELOG.md, a test
    // fixture); one with "docs/" or with sections must be a page of docs/.
    if (sections === null) {
      if (prefix || cited.length > 0) at(match.index, `docs/${page}.md does not exist`);
      continue;
    }
    for (const section of cited) {
      if (!sections.has(section)) at(match.index, `docs/${page}.md has no section ${section}`);
    }
  }

  for (const match of text.matchAll(SECTION)) {
    if (covered.some(([start, end]) => match.index >= start && match.index < end)) continue;
    if (!isPage) {
      at(match.index, `"§${match[1]}" does not say which page: write docs/<page>.md §${match[1]}`);
    } else if (!(await pageSections(name.slice("docs/".length, -".md".length)))!.has(match[1]!)) {
      at(match.index, `${name} has no section ${match[1]}`);
    }
  }
  return problems;
}

describe("references in comments and documents", () => {
  it("resolve inside the repository, and nothing cites external documents or issue numbers", async () => {
    const files = await scannedFiles();
    expect(files.length).toBeGreaterThan(100);
    const problems = (await Promise.all(files.map(problemsIn))).flat();
    expect(problems.map((p) => `${p.where}: ${p.problem}`)).toEqual([]);
  });

  it("finds a reference that does not resolve", async () => {
    // The checker itself, on a page name and a section that do not exist.
    expect(await pageSections("replay-rules")).toContain("13.11");
    expect(await pageSections("replay-rules")).not.toContain("14");
    expect(await pageSections("no-such-page")).toBeNull();
    const sample = "see docs/replay-rules.md §2, §14 and [store-contract.md](store-contract.md) §4.3 step 7";
    const matches = [...sample.matchAll(PAGE_REFERENCE)].map((m) => [
      m[2],
      [...m[3]!.matchAll(SECTION)].map((s) => s[1]),
    ]);
    expect(matches).toEqual([
      ["replay-rules", ["2", "14"]],
      ["store-contract", ["4.3"]],
    ]);
  });
});

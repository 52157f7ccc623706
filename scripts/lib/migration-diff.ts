/**
 * Render what one migration changed, from snapshots of the schema before and after it: new tables
 * in full, changed tables with added/removed columns marked, new/dropped indexes and triggers,
 * and every new or changed function shown WHOLE, with +/- on the changed lines, so a reader always
 * sees which function a change belongs to.
 */
import { diffLines } from "diff";
import { renderTable, type SchemaSnapshot, type TableDef } from "./catalog.ts";

/** The comment written right above `CREATE [OR REPLACE] FUNCTION name(` in a migration, if any. */
export function functionComment(migrationSql: string, name: string): string | null {
  const lines = migrationSql.split("\n");
  const start = new RegExp(`^CREATE (OR REPLACE )?FUNCTION ${name}\\(`);
  let comment: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    if (!start.test(lines[i]!)) continue;
    let k = i;
    if (i > 0 && lines[i - 1]!.trimEnd().endsWith("*/")) {
      k = i - 1;
      while (k > 0 && !lines[k]!.startsWith("/*")) k--;
    } else {
      while (k > 0 && lines[k - 1]!.startsWith("--")) k--;
    }
    comment = k < i ? lines.slice(k, i).join("\n") : null;
  }
  return comment;
}

/** pg_get_functiondef text split at its body: the header (arguments and attributes) and the rest. */
function splitBody(def: string): [string, string] {
  const at = def.indexOf("\nAS $function$");
  return at < 0 ? [def, ""] : [def.slice(0, at), def.slice(at)];
}

/**
 * A changed function: whole, with +/- on the changed lines; or, when only its attributes changed
 * (e.g. SECURITY DEFINER added), just its header with the body elided.
 */
function functionDiff(before: string, after: string): string {
  const [headBefore, bodyBefore] = splitBody(before);
  const [headAfter, bodyAfter] = splitBody(after);
  if (bodyBefore === bodyAfter && bodyBefore !== "")
    return `${wholeDiff(headBefore, headAfter)}\n  AS $function$ … (body unchanged)`;
  return wholeDiff(before, after);
}

const commentBlock = (comment: string | null, marker: string) =>
  comment === null
    ? ""
    : `${comment
        .split("\n")
        .map((l) => `${marker}${l}`)
        .join("\n")}\n`;

function wholeDiff(before: string, after: string): string {
  const out: string[] = [];
  for (const part of diffLines(`${before}\n`, `${after}\n`)) {
    const marker = part.added ? "+" : part.removed ? "-" : " ";
    for (const line of part.value.replace(/\n$/, "").split("\n")) out.push(`${marker} ${line}`);
  }
  return out.join("\n");
}

function tableDiff(name: string, before: TableDef, after: TableDef): string | null {
  const lines: string[] = [];
  const beforeCols = new Map(before.columns.map((c) => [c.name, c.definition]));
  const afterCols = new Map(after.columns.map((c) => [c.name, c.definition]));
  let changed = false;
  for (const c of after.columns) {
    const old = beforeCols.get(c.name);
    if (old === undefined) {
      lines.push(`+   ${c.name} ${c.definition}   -- new column`);
      changed = true;
    } else if (old !== c.definition) {
      lines.push(`-   ${c.name} ${old}`, `+   ${c.name} ${c.definition}`);
      changed = true;
    } else {
      lines.push(`    ${c.name} ${c.definition}`);
    }
  }
  for (const c of before.columns) {
    if (!afterCols.has(c.name)) {
      lines.push(`-   ${c.name} ${c.definition}   -- dropped column`);
      changed = true;
    }
  }
  const beforeCons = new Set(before.constraints);
  const afterCons = new Set(after.constraints);
  for (const c of after.constraints) {
    if (!beforeCons.has(c)) {
      lines.push(`+   ${c}`);
      changed = true;
    }
  }
  for (const c of before.constraints) {
    if (!afterCons.has(c)) {
      lines.push(`-   ${c}`);
      changed = true;
    }
  }
  return changed ? `  CREATE TABLE ${name} (\n${lines.join("\n")}\n  );` : null;
}

/** The markdown for migration `title`, or null when it changes no table, index, function or trigger. */
export function renderMigrationDiff(
  title: string,
  before: SchemaSnapshot,
  after: SchemaSnapshot,
  migrationSql = "",
): string | null {
  const commentOf = (signature: string) =>
    functionComment(migrationSql, signature.slice(0, signature.indexOf("(")).replace(/^pgd\./, ""));
  const sections: string[] = [];
  const newTables = [...after.tables.keys()].filter((t) => !before.tables.has(t)).sort();
  const droppedTables = [...before.tables.keys()].filter((t) => !after.tables.has(t)).sort();
  if (newTables.length) {
    sections.push(
      `## New tables\n\n\`\`\`sql\n${newTables.map((t) => renderTable(t, after.tables.get(t)!)).join("\n\n")}\n\`\`\``,
    );
  }
  const changedTables = [...after.tables.keys()]
    .filter((t) => before.tables.has(t))
    .sort()
    .map((t) => tableDiff(t, before.tables.get(t)!, after.tables.get(t)!))
    .filter((d): d is string => d !== null);
  if (changedTables.length)
    sections.push(`## Changed tables\n\n\`\`\`diff\n${changedTables.join("\n\n")}\n\`\`\``);
  if (droppedTables.length)
    sections.push(`## Dropped tables\n\n${droppedTables.map((t) => `- \`${t}\``).join("\n")}`);

  const listChange = (label: string, a: Map<string, string>, b: Map<string, string>) => {
    const added = [...b].filter(([k, v]) => a.get(k) !== v).map(([, v]) => `+ ${v}`);
    const removed = [...a].filter(([k, v]) => b.get(k) !== v).map(([, v]) => `- ${v}`);
    if (added.length || removed.length)
      sections.push(`## ${label}\n\n\`\`\`diff\n${[...removed, ...added].join("\n")}\n\`\`\``);
  };
  listChange("Indexes", before.indexes, after.indexes);
  listChange("Triggers", before.triggers, after.triggers);
  // Privileges of objects on both sides only: a new object's defaults are no news.
  const privileges = (acls: Map<string, string>, other: Map<string, string>) =>
    new Map([...acls].filter(([o]) => other.has(o)).map(([o, g]) => [o, `${o}: ${g}`]));
  listChange("Privileges", privileges(before.acls, after.acls), privileges(after.acls, before.acls));

  const newFunctions = [...after.functions.keys()].filter((f) => !before.functions.has(f)).sort();
  const dropped = [...before.functions.keys()].filter((f) => !after.functions.has(f)).sort();
  const changed = [...after.functions.keys()]
    .filter((f) => before.functions.has(f) && before.functions.get(f) !== after.functions.get(f))
    .sort();
  // A function whose signature changed is dropped and re-created: show it against its old self.
  const renamed = new Map<string, string>();
  for (const f of newFunctions) {
    const name = f.slice(0, f.indexOf("("));
    const old = dropped.find((d) => d.slice(0, d.indexOf("(")) === name && !renamed.has(d));
    if (old) renamed.set(old, f);
  }
  const replacedOld = new Set(renamed.keys());
  const replacedNew = new Set(renamed.values());
  for (const f of changed) {
    sections.push(
      `## Changed function \`${f}\`\n\n\`\`\`diff\n${commentBlock(commentOf(f), "  ")}${functionDiff(before.functions.get(f)!, after.functions.get(f)!)}\n\`\`\``,
    );
  }
  for (const [old, f] of renamed) {
    sections.push(
      `## Replaced function \`${old}\` → \`${f}\`\n\n\`\`\`diff\n${commentBlock(commentOf(f), "  ")}${wholeDiff(before.functions.get(old)!, after.functions.get(f)!)}\n\`\`\``,
    );
  }
  for (const f of newFunctions.filter((f) => !replacedNew.has(f))) {
    sections.push(
      `## New function \`${f}\`\n\n\`\`\`sql\n${commentBlock(commentOf(f), "")}${after.functions.get(f)}\n\`\`\``,
    );
  }
  const droppedOnly = dropped.filter((f) => !replacedOld.has(f));
  if (droppedOnly.length)
    sections.push(`## Dropped functions\n\n${droppedOnly.map((f) => `- \`${f}\``).join("\n")}`);

  if (sections.length === 0) return null;
  return [
    `# Migration ${title}`,
    "",
    "Generated by `npm run migration:diff` from the catalog of a schema migrated to the version before",
    "and one migrated to this version (schema name shown as `pgd`), each function with the comment",
    "written above it in the migration. Do not edit: CI regenerates it.",
    "",
    ...sections.flatMap((s) => [s, ""]),
  ]
    .join("\n")
    .replace(/\n+$/, "\n");
}

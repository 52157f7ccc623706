/**
 * Names the PostgreSQL frontend messages a client sends, for the round-trip trace
 * (`--trace-calls`): which function call or statement each write burst carried. Reads the stream
 * of one connection incrementally (a message may span chunks); keeps at most the first
 * KEPT_BYTES of each message's body. A stream it cannot follow (TLS after an accepted SSLRequest,
 * a nonsensical length) turns it off for that connection rather than printing garbage.
 */

const KEPT_BYTES = 512;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const MAX_MESSAGE_BYTES = 1 << 30;
/** The server refuses a longer startup packet; anything else there is TLS or noise. */
const MAX_STARTUP_BYTES = 10_000;

/** Bind names a statement `pgd_<hash>_<function>_<arity>[_r<n>]` (src/provider/sql.ts). */
const STORE_STATEMENT = /^pgd_[0-9a-f]{10}_(.+)_\d+(?:_r\d+)?$/;
/** An unnamed call's text: `SELECT * FROM "schema".function($1, …)`. */
const STORE_CALL = /FROM\s+(?:"[^"]*"|\w+)\.(\w+)\(/;

export class FrontendMessageReader {
  private startupPhase = true;
  private lost = false;
  private header = Buffer.alloc(0);
  private type: string | null = null;
  private remaining = 0;
  private body: Buffer[] = [];
  private kept = 0;

  /** Feed the next chunk the client sent; returns a label per message completed in it. */
  feed(chunk: Buffer): string[] {
    const labels: string[] = [];
    let i = 0;
    while (i < chunk.length && !this.lost) {
      if (this.type === null) {
        const headerSize = this.startupPhase ? 4 : 5;
        const take = chunk.subarray(i, i + headerSize - this.header.length);
        this.header = Buffer.concat([this.header, take]);
        i += take.length;
        if (this.header.length < headerSize) break;
        const length = this.header.readInt32BE(headerSize - 4);
        if (length < 4 || length > (this.startupPhase ? MAX_STARTUP_BYTES : MAX_MESSAGE_BYTES)) {
          this.lost = true;
          labels.push("(unreadable stream)");
          break;
        }
        this.type = this.startupPhase ? "" : String.fromCharCode(this.header[0]!);
        this.remaining = length - 4;
        this.header = Buffer.alloc(0);
        this.body = [];
        this.kept = 0;
      }
      const take = Math.min(this.remaining, chunk.length - i);
      if (this.kept < KEPT_BYTES) {
        const part = chunk.subarray(i, i + Math.min(take, KEPT_BYTES - this.kept));
        this.body.push(part);
        this.kept += part.length;
      }
      i += take;
      this.remaining -= take;
      if (this.remaining === 0) {
        const label = this.finish(this.type!, Buffer.concat(this.body));
        this.type = null;
        if (label) labels.push(label);
      }
    }
    return labels;
  }

  private finish(type: string, body: Buffer): string | null {
    if (type === "") {
      const code = body.length >= 4 ? body.readInt32BE(0) : 0;
      if (code === SSL_REQUEST || code === GSSENC_REQUEST) return "ssl-request";
      if (code === CANCEL_REQUEST) return "cancel-request";
      this.startupPhase = false;
      return "startup";
    }
    switch (type) {
      case "Q":
        return `query ${oneLine(cString(body, 0).text)}`;
      case "P": {
        const name = cString(body, 0);
        const text = cString(body, name.end + 1).text;
        return `parse ${storeFunction(name.text, text) ?? oneLine(text)}`;
      }
      case "B": {
        const portal = cString(body, 0);
        const statement = cString(body, portal.end + 1).text;
        return statement === "" ? null : (storeFunction(statement, "") ?? statement); // unnamed: its Parse says what
      }
      case "p":
        return "auth";
      case "X":
        return "terminate";
      default:
        return null; // Describe, Execute, Sync, Flush, Close: part of the call they follow
    }
  }
}

/** The store function a statement name or call text refers to, if it is one of ours. */
export function storeFunction(statementName: string, text: string): string | null {
  return STORE_STATEMENT.exec(statementName)?.[1] ?? STORE_CALL.exec(text)?.[1] ?? null;
}

function cString(body: Buffer, start: number): { text: string; end: number } {
  const end = body.indexOf(0, start);
  const stop = end === -1 ? body.length : end;
  return { text: body.toString("utf8", start, stop), end: stop };
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 70 ? `${flat.slice(0, 67)}...` : flat;
}

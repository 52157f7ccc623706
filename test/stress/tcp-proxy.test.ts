/**
 * The failover and latency proxy: bytes pass both ways unchanged, each chunk waits the configured
 * delay in each direction (in order, even when the delay is lowered), a client's write burst after
 * a reply counts as one round trip, and re-pointing sends new connections to the new target while
 * dropping the ones that still lead to the old one.
 */
import { createServer, type Server, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { TcpProxy } from "../../src/stress/tcp-proxy.ts";

const opened: { close(): unknown }[] = [];

afterEach(async () => {
  for (const o of opened.splice(0)) await o.close();
});

/** A server answering every chunk with `<name>:<chunk>` (with the chunk alone when `name` is empty). */
async function echoServer(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.on("data", (chunk) => socket.write(name ? `${name}:${chunk.toString()}` : chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const handle = {
    port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  opened.push(handle);
  return handle;
}

async function startProxy(port: number, delayMs = 0): Promise<TcpProxy> {
  const proxy = await TcpProxy.start({ target: { host: "127.0.0.1", port }, delayMs });
  opened.push(proxy);
  return proxy;
}

async function connect(port: number): Promise<Socket> {
  const socket = new Socket();
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.connect(port, "127.0.0.1", () => resolve());
  });
  opened.push({ close: () => socket.destroy() });
  return socket;
}

/** Send `text` and resolve with the reply once it is `expected` bytes long. */
function ask(socket: Socket, text: string, expectedLength: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = "";
    const onData = (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.length >= expectedLength) {
        socket.off("data", onData);
        resolve(reply);
      }
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error(`closed after ${JSON.stringify(reply)}`)));
    socket.write(text);
  });
}

describe("TcpProxy", () => {
  it("forwards bytes both ways, unchanged and in order", async () => {
    const server = await echoServer("");
    const proxy = await startProxy(server.port);
    const socket = await connect(proxy.port);
    // Several chunks each way, each byte telling its position.
    const payload = Array.from({ length: 40_000 }, (_, i) => `${i % 10}`).join("") + "end".repeat(20_000);
    expect(await ask(socket, payload, payload.length)).toBe(payload);
    expect(proxy.connections).toBe(1);
  });

  it("holds every chunk back by the configured delay in each direction", async () => {
    const server = await echoServer("A");
    const direct = await connect(server.port);
    const proxied = await connect((await startProxy(server.port, 150)).port);
    const t0 = Date.now();
    expect(await ask(proxied, "ping", 6)).toBe("A:ping");
    const roundTrip = Date.now() - t0;
    // 150 ms there and 150 ms back; only the lower bound is safe on a busy machine.
    expect(roundTrip).toBeGreaterThanOrEqual(295);
    const t1 = Date.now();
    expect(await ask(direct, "ping", 6)).toBe("A:ping");
    expect(Date.now() - t1).toBeLessThan(roundTrip);
  });

  it("keeps byte order when the delay is lowered while a chunk is still held back", async () => {
    const server = await echoServer("");
    const proxy = await startProxy(server.port, 200);
    const socket = await connect(proxy.port);
    const reply = ask(socket, "first;", 12);
    await new Promise((resolve) => setTimeout(resolve, 20)); // "first;" is queued in the proxy
    proxy.delayMs = 0;
    socket.write("second");
    expect(await reply).toBe("first;second");
  });

  it("counts a client's write burst after a reply as one round trip, however many chunks it has", async () => {
    // Answers once per newline, so every chunk of a line reaches the proxy before any answer.
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      let line = "";
      socket.on("data", (chunk) => {
        line += chunk.toString();
        if (line.endsWith("\n")) {
          socket.write(`ok:${line}`);
          line = "";
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    opened.push({
      close: () => {
        for (const s of sockets) s.destroy();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      },
    });
    const proxy = await startProxy((server.address() as { port: number }).port);
    const socket = await connect(proxy.port);
    const first = ask(socket, "a", 7);
    socket.write("b");
    socket.write("c\n");
    expect(await first).toBe("ok:abc\n");
    expect(proxy.roundTrips).toBe(2); // the TCP handshake and the burst
    expect(await ask(socket, "d\n", 5)).toBe("ok:d\n");
    expect(proxy.roundTrips).toBe(3);

    const other = await connect(proxy.port);
    expect(await ask(other, "e\n", 5)).toBe("ok:e\n");
    expect(proxy.roundTrips).toBe(5);
    expect(proxy.accepted).toBe(2);
  });

  it("with delayConnect, holds a new connection back by a round trip before its first bytes pass", async () => {
    const server = await echoServer("A");
    const proxy = await TcpProxy.start({
      target: { host: "127.0.0.1", port: server.port },
      delayMs: 100,
      delayConnect: true,
    });
    opened.push(proxy);
    const socket = await connect(proxy.port);
    const t0 = Date.now();
    expect(await ask(socket, "ping", 6)).toBe("A:ping");
    // 200 ms handshake, then the request's own 100 ms there and 100 ms back (lower bound only).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(395);
  });

  it("re-points to a new target and drops the connections to the old one", async () => {
    const a = await echoServer("A");
    const b = await echoServer("B");
    const proxy = await startProxy(a.port);
    const old = await connect(proxy.port);
    expect(await ask(old, "1", 3)).toBe("A:1");
    const oldClosed = new Promise<void>((resolve) => old.once("close", () => resolve()));

    expect(proxy.retarget({ host: "127.0.0.1", port: b.port })).toBe(1);
    await oldClosed;
    expect(proxy.target.port).toBe(b.port);

    const fresh = await connect(proxy.port);
    expect(await ask(fresh, "2", 3)).toBe("B:2");
    expect(proxy.connections).toBe(1);
  });

  it("closes a connection whose target refuses it, so the client sees a broken connection", async () => {
    const server = await echoServer("A");
    const port = server.port;
    await server.close(); // nothing listens there any more
    const proxy = await startProxy(port);
    const socket = await connect(proxy.port);
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
    expect(proxy.connections).toBe(0);
  });
});

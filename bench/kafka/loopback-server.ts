/**
 * The server of the loopback reference (loopback.ts): prints its port, then serves one client,
 * each 4-byte request answered with the next chunk of the log's segment files (wrapping at the
 * end), sent with the native/io addon's sendfile.
 *
 *   node bench/kafka/loopback-server.ts <log directory>
 */
import { openSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { socketDescriptor } from "../../src/broker/kafka/zero-copy.ts";
import { type IoAddon, loadIoAddon } from "../../src/native/io-addon.ts";
import { chunks, segmentFiles } from "./loopback.ts";

const loaded = loadIoAddon();
if ("unavailable" in loaded) throw new Error(loaded.unavailable);
const addon: IoAddon = loaded;
const files = segmentFiles(process.argv[2]);
const descriptors = files.map((file) => openSync(file.path, "r"));
const plan = chunks(files);
const EMPTY = Buffer.alloc(0);
let next = 0;

function send(socket: Socket, fd: number, position: number, length: number): void {
  addon.sendFile(socketDescriptor(socket), EMPTY, fd, position, length, (errno, _head, sent) => {
    if (errno !== 0) process.exit(0);
    // The socket's buffer was full: the rest once the client has read some.
    if (sent < length) setImmediate(send, socket, fd, position + sent, length - sent);
  });
}

const server = createServer({ noDelay: true }, (socket) => {
  server.close();
  socket.on("error", () => process.exit(0));
  socket.on("close", () => process.exit(0));
  socket.on("data", (requests: Buffer) => {
    for (let i = 0; i + 4 <= requests.length; i += 4) {
      const { file, position, length } = plan[next];
      next = (next + 1) % plan.length;
      send(socket, descriptors[file], position, length);
    }
  });
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address !== null && typeof address === "object") console.log(address.port);
});
